//! The camera's view: which part of the world a frame shows, and conversions between world
//! metres and pixels.
//!
//! The view is [`VIEW_HEIGHT`] metres tall whatever the frame size; its width follows the
//! frame's aspect ratio, so a wide frame sees more of the world, not a stretched one. The
//! ground line sits [`GROUND_FRACTION`] of the height above the bottom edge.

/// Height of the visible world, metres.
pub const VIEW_HEIGHT: f32 = 5.0;
/// Share of the frame's height below the ground line.
pub const GROUND_FRACTION: f32 = 0.25;

/// A frame's window onto the world.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    /// Frame width, pixels.
    pub width: u32,
    /// Frame height, pixels.
    pub height: u32,
    /// Centre of the view, world x.
    pub center_x: f32,
    /// Metres per pixel (the same both ways).
    pub mpp: f32,
}

impl View {
    /// The view of a `width × height` frame centred on `center_x`.
    pub fn new(width: u32, height: u32, center_x: f32) -> View {
        View { width, height, center_x, mpp: VIEW_HEIGHT / height as f32 }
    }

    /// World x of the left edge.
    pub fn left(&self) -> f32 {
        self.center_x - self.width as f32 * self.mpp / 2.0
    }

    /// World x of the right edge.
    pub fn right(&self) -> f32 {
        self.center_x + self.width as f32 * self.mpp / 2.0
    }

    /// World y of the top edge.
    pub fn top(&self) -> f32 {
        VIEW_HEIGHT * (1.0 - GROUND_FRACTION)
    }

    /// World y of the bottom edge.
    pub fn bottom(&self) -> f32 {
        -VIEW_HEIGHT * GROUND_FRACTION
    }

    /// Pixel coordinates (x right, y down; pixel `(i, j)` spans `[i, i+1) × [j, j+1)`) of a
    /// world point.
    pub fn to_pixel(&self, x: f32, y: f32) -> (f32, f32) {
        ((x - self.left()) / self.mpp, (self.top() - y) / self.mpp)
    }

    /// World point of pixel coordinates.
    pub fn to_world(&self, px: f32, py: f32) -> (f32, f32) {
        (self.left() + px * self.mpp, self.top() - py * self.mpp)
    }

    /// Whether a world point lies inside the frame.
    pub fn contains(&self, x: f32, y: f32) -> bool {
        x >= self.left() && x < self.right() && y > self.bottom() && y <= self.top()
    }
}
