//! Geometric shapes in world metres with signed distances: the renderer anti-aliases with them
//! and the ground truth measures occlusion with the very same shapes.

/// A filled shape. Signed distance is negative inside.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    /// A disc.
    Circle {
        /// Centre x.
        cx: f32,
        /// Centre y.
        cy: f32,
        /// Radius.
        r: f32,
    },
    /// An axis-aligned rectangle with rounded corners (`round = 0` for sharp ones).
    Rect {
        /// Left.
        x0: f32,
        /// Bottom.
        y0: f32,
        /// Right.
        x1: f32,
        /// Top.
        y1: f32,
        /// Corner radius.
        round: f32,
    },
}

impl Shape {
    /// A sharp rectangle from its corners.
    pub fn rect(x0: f32, y0: f32, x1: f32, y1: f32) -> Shape {
        Shape::Rect { x0, y0, x1, y1, round: 0.0 }
    }

    /// Signed distance from `(x, y)` to the outline, metres (negative inside).
    pub fn sd(&self, x: f32, y: f32) -> f32 {
        match *self {
            Shape::Circle { cx, cy, r } => ((x - cx).powi(2) + (y - cy).powi(2)).sqrt() - r,
            Shape::Rect { x0, y0, x1, y1, round } => {
                let (hx, hy) = ((x1 - x0) / 2.0, (y1 - y0) / 2.0);
                let r = round.min(hx).min(hy);
                let dx = (x - (x0 + x1) / 2.0).abs() - (hx - r);
                let dy = (y - (y0 + y1) / 2.0).abs() - (hy - r);
                let outside = (dx.max(0.0).powi(2) + dy.max(0.0).powi(2)).sqrt();
                outside + dx.max(dy).min(0.0) - r
            }
        }
    }

    /// Whether `(x, y)` is inside.
    pub fn contains(&self, x: f32, y: f32) -> bool {
        self.sd(x, y) <= 0.0
    }

    /// Bounding box `(x0, y0, x1, y1)`.
    pub fn bounds(&self) -> (f32, f32, f32, f32) {
        match *self {
            Shape::Circle { cx, cy, r } => (cx - r, cy - r, cx + r, cy + r),
            Shape::Rect { x0, y0, x1, y1, .. } => (x0, y0, x1, y1),
        }
    }
}
