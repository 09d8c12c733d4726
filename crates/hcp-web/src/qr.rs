//! QR codes for receipts: SVG for pages and print, PNG for devices.

use qrcode::{EcLevel, QrCode, render::svg};

use hcp_app::AppError as ApiError;

fn code(data: &str) -> Result<QrCode, ApiError> {
    QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M).map_err(|_| ApiError::internal("the QR code could not be made"))
}

pub fn svg(data: &str) -> Result<String, ApiError> {
    Ok(code(data)?.render::<svg::Color>().min_dimensions(200, 200).quiet_zone(true).build())
}

/// A black-on-white PNG, `scale` pixels per module, with a four-module quiet zone.
pub fn png(data: &str, scale: u32) -> Result<Vec<u8>, ApiError> {
    let qr = code(data)?;
    let width = qr.width() as u32;
    let quiet = 4;
    let size = (width + 2 * quiet) * scale;
    let colors = qr.to_colors();
    let mut pixels = vec![255u8; (size * size) as usize];
    for y in 0..width {
        for x in 0..width {
            if colors[(y * width + x) as usize] == qrcode::Color::Dark {
                for dy in 0..scale {
                    for dx in 0..scale {
                        let px = (x + quiet) * scale + dx;
                        let py = (y + quiet) * scale + dy;
                        pixels[(py * size + px) as usize] = 0;
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    let fail = |_| ApiError::internal("the QR image could not be encoded");
    {
        let mut enc = png::Encoder::new(&mut out, size, size);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(fail)?;
        w.write_image_data(&pixels).map_err(fail)?;
    }
    Ok(out)
}
