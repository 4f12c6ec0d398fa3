//! Real, scannable PNG images of QR codes (for `showqrcode` and Mini Program codes).

use qrcode::{Color, QrCode};

/// Modules of white border around the symbol, as the QR specification asks for.
const QUIET_ZONE: usize = 4;

#[derive(Debug, thiserror::Error)]
pub(crate) enum QrImageError {
    #[error("content does not fit a QR code: {0}")]
    Encode(#[from] qrcode::types::QrError),
    #[error("png encoding failed: {0}")]
    Png(#[from] png::EncodingError),
    #[error("image too large")]
    TooLarge,
}

/// Renders `content` as an 8-bit grayscale PNG, `module_px` pixels per module.
pub(crate) fn render_png(content: &[u8], module_px: usize) -> Result<Vec<u8>, QrImageError> {
    let code = QrCode::new(content)?;
    let modules = code.width();
    let colors = code.to_colors();
    let scale = module_px.max(1);
    let side = (modules + 2 * QUIET_ZONE) * scale;
    let side_u32 = u32::try_from(side).map_err(|_| QrImageError::TooLarge)?;

    let mut pixels = vec![0xFFu8; side * side];
    for (index, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (index % modules, index / modules);
        let (x0, y0) = ((mx + QUIET_ZONE) * scale, (my + QUIET_ZONE) * scale);
        for row in pixels.chunks_exact_mut(side).skip(y0).take(scale) {
            if let Some(span) = row.get_mut(x0..x0 + scale) {
                span.fill(0);
            }
        }
    }

    let mut out = Vec::with_capacity(side * side / 8 + 128);
    let mut encoder = png::Encoder::new(&mut out, side_u32, side_u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(out)
}

/// Pixels per module so the image is about `width` pixels wide (WeChat's `width` parameter).
pub(crate) fn module_px_for_width(content: &[u8], width: usize) -> usize {
    let modules = QrCode::new(content).map_or(21, |code| code.width());
    (width / (modules + 2 * QUIET_ZONE)).max(1)
}

/// The PNG signature every image starts with.
#[cfg(test)]
pub(crate) const PNG_MAGIC: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_png_with_the_symbol_and_a_white_quiet_zone() {
        let png_bytes = render_png(b"http://weixin.qq.com/q/abc", 4).unwrap();
        assert_eq!(png_bytes[..8], PNG_MAGIC);

        let decoder = png::Decoder::new(png_bytes.as_slice());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        let side = info.width as usize;
        assert_eq!(info.width, info.height);
        // Top-left corner is quiet zone (white); the finder pattern's corner is black.
        assert_eq!(buf[0], 0xFF);
        assert_eq!(buf[QUIET_ZONE * 4 * side + QUIET_ZONE * 4], 0);
    }

    #[test]
    fn width_picks_a_scale_close_to_the_requested_size() {
        let content = b"scene=abc";
        let px = module_px_for_width(content, 430);
        let png_bytes = render_png(content, px).unwrap();
        let reader = png::Decoder::new(png_bytes.as_slice()).read_info().unwrap();
        let width = reader.info().width;
        assert!((300..=430).contains(&width), "{width}");
    }
}
