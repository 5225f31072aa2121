//! Charts drawn on the server (`?format=png|svg`) with plotters: the same numbers as a page's
//! interactive chart, for reports and for clients without JavaScript. SVG needs no font; PNG
//! draws its text with DejaVu Sans, read once from the system (Debian `fonts-dejavu-core`).

use plotters::prelude::*;
use std::sync::OnceLock;

/// Where the PNG font is read from.
pub const FONT_PATH: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// An image format a chart is drawn in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotFormat {
    Svg,
    Png,
}

impl PlotFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            PlotFormat::Svg => "image/svg+xml",
            PlotFormat::Png => "image/png",
        }
    }
}

/// Bars per category, stacked (or side by side), one colour per series.
pub struct BarChart<'a> {
    pub title: &'a str,
    pub categories: &'a [String],
    pub series: &'a [(String, Vec<f64>)],
    pub stacked: bool,
}

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 600;

/// The series colours, in order; "other" is grey.
const PALETTE: [RGBColor; 10] = [
    RGBColor(84, 112, 198),
    RGBColor(145, 204, 117),
    RGBColor(250, 200, 88),
    RGBColor(238, 102, 102),
    RGBColor(115, 192, 222),
    RGBColor(59, 162, 114),
    RGBColor(252, 132, 82),
    RGBColor(154, 96, 180),
    RGBColor(234, 124, 204),
    RGBColor(80, 80, 120),
];
const OTHER: RGBColor = RGBColor(176, 183, 192);

/// Registers the PNG font once; whether it could be.
fn font_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| match std::fs::read(FONT_PATH) {
        Ok(bytes) => {
            // The font lives as long as the process: plotters keeps a reference to it.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
        }
        Err(e) => {
            tracing::warn!(path = FONT_PATH, error = %e, "png charts unavailable: font not readable");
            false
        }
    })
}

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error(
        "png charts need the DejaVu Sans font at {FONT_PATH} (Debian package fonts-dejavu-core); format=svg works without it"
    )]
    NoFont,
    #[error("the chart could not be drawn: {0}")]
    Draw(String),
}

/// Draws `chart` in `format`.
pub fn draw(chart: &BarChart<'_>, format: PlotFormat) -> Result<Vec<u8>, PlotError> {
    let ready = font_ready();
    match format {
        PlotFormat::Svg => {
            let mut out = String::new();
            {
                let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
                paint(&root, chart).map_err(|e| PlotError::Draw(e.to_string()))?;
            }
            Ok(out.into_bytes())
        }
        PlotFormat::Png => {
            if !ready {
                return Err(PlotError::NoFont);
            }
            let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
            {
                let root =
                    BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
                paint(&root, chart).map_err(|e| PlotError::Draw(e.to_string()))?;
            }
            let mut out = Vec::new();
            {
                let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
                encoder.set_color(png::ColorType::Rgb);
                encoder.set_depth(png::BitDepth::Eight);
                let mut writer = encoder
                    .write_header()
                    .map_err(|e| PlotError::Draw(e.to_string()))?;
                writer
                    .write_image_data(&rgb)
                    .map_err(|e| PlotError::Draw(e.to_string()))?;
            }
            Ok(out)
        }
    }
}

fn paint<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    chart: &BarChart<'_>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let n = chart.categories.len().max(1);
    let k = chart.series.len().max(1);
    let top = (0..n)
        .map(|i| {
            let values = chart
                .series
                .iter()
                .map(|(_, v)| v.get(i).copied().unwrap_or(0.0));
            if chart.stacked {
                values.sum::<f64>()
            } else {
                values.fold(0.0, f64::max)
            }
        })
        .fold(0.0, f64::max);
    let top = if top > 0.0 { top * 1.05 } else { 1.0 };
    let mut plot = ChartBuilder::on(root)
        .caption(chart.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(70)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..n as f64, 0f64..top)?;
    let categories = chart.categories;
    plot.configure_mesh()
        .disable_x_mesh()
        .x_labels(n.min(12))
        .x_label_formatter(&|x| {
            categories
                .get(x.floor() as usize)
                .cloned()
                .unwrap_or_default()
        })
        .x_label_style(("sans-serif", 12))
        .y_label_style(("sans-serif", 12))
        .draw()?;
    let mut base = vec![0.0; n];
    for (s, (name, values)) in chart.series.iter().enumerate() {
        let colour = if name == "other" {
            OTHER
        } else {
            PALETTE[s % PALETTE.len()]
        };
        let bars = values.iter().enumerate().map(|(i, &v)| {
            let (x0, x1, y0) = if chart.stacked {
                (i as f64 + 0.1, i as f64 + 0.9, base[i])
            } else {
                let w = 0.8 / k as f64;
                (
                    i as f64 + 0.1 + w * s as f64,
                    i as f64 + 0.1 + w * (s + 1) as f64,
                    0.0,
                )
            };
            Rectangle::new([(x0, y0), (x1, y0 + v)], colour.filled())
        });
        plot.draw_series(bars)?
            .label(name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
        if chart.stacked {
            for (b, v) in base.iter_mut().zip(values) {
                *b += v;
            }
        }
    }
    plot.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 12))
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_carries_the_series_and_png_decodes() {
        let categories: Vec<String> = (0..4).map(|i| format!("0{i}:00")).collect();
        let series = vec![
            ("CERN-PROD".to_string(), vec![1.0, 2.0, 3.0, 4.0]),
            ("other".to_string(), vec![4.0, 3.0, 2.0, 1.0]),
        ];
        let chart = BarChart {
            title: "completed jobs",
            categories: &categories,
            series: &series,
            stacked: true,
        };
        let svg = String::from_utf8(draw(&chart, PlotFormat::Svg).unwrap()).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        assert!(svg.contains("CERN-PROD") && svg.contains("completed jobs"));
        let png = draw(&chart, PlotFormat::Png).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (WIDTH, HEIGHT));
    }
}
