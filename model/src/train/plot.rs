//! The loss curve of a run as a PNG (plotters, with an embedded DejaVu font so no system fonts
//! are needed).

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use worldsim_scenes::Frame;
use worldsim_scenes::media::{encode_png, write_atomic};

use super::metrics::MetricsLine;

const SIZE: (u32, u32) = (800, 450);
static FONT: Once = Once::new();

/// Draws the total loss and a second series (`recon`, named `second`: the VAE's reconstruction
/// loss, the DiT's smoothed loss) against step into `path`.
pub fn plot_losses(lines: &[MetricsLine], title: &str, second: &str, path: &Path) -> Result<(), String> {
    FONT.call_once(|| {
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    });
    if lines.is_empty() {
        return Err("no metrics to plot yet".into());
    }
    let (w, h) = SIZE;
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let max_step = lines.iter().map(|l| l.step).max().unwrap_or(1).max(1);
        let top = lines.iter().flat_map(|l| [l.loss, l.recon]).filter(|v| v.is_finite()).fold(0.0, f64::max);
        let (lo, hi) = (0.0, if top > 0.0 { top * 1.05 } else { 1.0 });
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0u64..max_step, lo..hi)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc("loss")
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| e.to_string())?;
        let series = [("total loss", RGBColor(200, 40, 40), 0), (second, RGBColor(40, 80, 200), 1)];
        for (name, color, which) in series {
            let points =
                lines.iter().map(|l| (l.step, if which == 0 { l.loss } else { l.recon })).filter(|(_, v)| *v > 0.0);
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    let frame = Frame { width: w, height: h, rgb: buf };
    write_atomic(path, |out| encode_png(out, &frame, path)).map_err(|e| e.to_string())
}
