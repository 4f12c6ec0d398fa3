//! Real, scannable PNG images of QR codes (for `showqrcode` and Mini Program codes), and the
//! way back: reading the QR code in a PNG (for `/__sim/wxacode-scan`).

use qrcode::{Color, QrCode};

/// Modules of white border around the symbol, as the QR specification asks for.
const QUIET_ZONE: usize = 4;
/// The widest and tallest image `decode_png` reads (WeChat draws codes up to 1280 px).
const MAX_DECODE_SIDE: u32 = 4096;

#[derive(Debug, thiserror::Error)]
pub(crate) enum QrImageError {
    #[error("content does not fit a QR code: {0}")]
    Encode(#[from] qrcode::types::QrError),
    #[error("png encoding failed: {0}")]
    Png(#[from] png::EncodingError),
    #[error("image too large")]
    TooLarge,
    #[error("not a readable PNG image: {0}")]
    NotPng(#[from] png::DecodingError),
    #[error("unsupported PNG pixel format")]
    PixelFormat,
    #[error("no readable QR code in the image")]
    NoCode,
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

/// The text of the first readable QR code in a PNG image.
///
/// Any PNG colour type and bit depth is accepted: pixels are turned into 8-bit luminance,
/// transparent ones composited over white (as a screen behind the image would show them).
pub(crate) fn decode_png(bytes: &[u8]) -> Result<String, QrImageError> {
    let luma = read_luma(bytes)?;
    // QR detectors have panicked on odd images before: a bad image is a refusal, not a lost
    // worker thread.
    std::panic::catch_unwind(|| find_code(&luma)).unwrap_or(Err(QrImageError::NoCode))
}

fn find_code(luma: &Luma) -> Result<String, QrImageError> {
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(luma.width, luma.height, |x, y| {
        luma.pixels
            .get(y * luma.width + x)
            .copied()
            .unwrap_or(u8::MAX)
    });
    let grids = image.detect_grids();
    grids
        .iter()
        .find_map(|grid| grid.decode().ok())
        .map(|(_meta, content)| content)
        .ok_or(QrImageError::NoCode)
}

/// An image as 8-bit luminance, row by row: 0 is black, 255 white.
struct Luma {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

fn read_luma(bytes: &[u8]) -> Result<Luma, QrImageError> {
    let mut decoder = png::Decoder::new(bytes);
    // Palette to RGB, 1/2/4-bit grey to 8-bit, tRNS to an alpha channel, 16-bit to 8-bit.
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info()?;
    let (width, height) = reader.info().size();
    if width > MAX_DECODE_SIDE || height > MAX_DECODE_SIDE {
        return Err(QrImageError::TooLarge);
    }
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf)?;
    let samples = match frame.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => return Err(QrImageError::PixelFormat),
    };
    if frame.bit_depth != png::BitDepth::Eight {
        return Err(QrImageError::PixelFormat);
    }
    let width = usize::try_from(frame.width).map_err(|_| QrImageError::TooLarge)?;
    let height = usize::try_from(frame.height).map_err(|_| QrImageError::TooLarge)?;
    let mut pixels = Vec::with_capacity(width * height);
    for row in buf.chunks_exact(frame.line_size.max(1)).take(height) {
        pixels.extend(row.chunks_exact(samples).take(width).map(luma_of));
    }
    if width == 0 || height == 0 || pixels.len() != width * height {
        return Err(QrImageError::PixelFormat);
    }
    Ok(Luma {
        width,
        height,
        pixels,
    })
}

/// One pixel's luminance (ITU-R BT.601 weights), composited over white by its alpha.
fn luma_of(pixel: &[u8]) -> u8 {
    let (luma, alpha) = match *pixel {
        [grey] => (u32::from(grey), 255),
        [grey, alpha] => (u32::from(grey), u32::from(alpha)),
        [r, g, b] => (rgb_luma(r, g, b), 255),
        [r, g, b, alpha] => (rgb_luma(r, g, b), u32::from(alpha)),
        _ => (255, 255),
    };
    let composited = (luma * alpha + 255 * (255 - alpha)) / 255;
    u8::try_from(composited).unwrap_or(u8::MAX)
}

fn rgb_luma(r: u8, g: u8, b: u8) -> u32 {
    (299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b)) / 1000
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

    #[test]
    fn decoding_reads_back_what_was_rendered() {
        let content = "wxauth-sim://wxacode?appid=wx1&page=pages%2Flogin%2Findex&scene=a%3D1&env_version=release";
        for module_px in [3, 4, 10] {
            let png_bytes = render_png(content.as_bytes(), module_px).unwrap();
            assert_eq!(decode_png(&png_bytes).unwrap(), content, "{module_px} px");
        }
    }

    /// Re-encodes an 8-bit grey image as another colour type, the way other tools save codes.
    fn reencode(
        grey: &[u8],
        side: u32,
        color: png::ColorType,
    ) -> Result<Vec<u8>, png::EncodingError> {
        let pixels: Vec<u8> = match color {
            png::ColorType::Rgb => grey.iter().flat_map(|&g| [g, g, g]).collect(),
            // Dark modules opaque black, light ones fully transparent.
            png::ColorType::Rgba => grey
                .iter()
                .flat_map(|&g| if g == 0 { [0, 0, 0, 255] } else { [0, 0, 0, 0] })
                .collect(),
            png::ColorType::Indexed => grey.iter().map(|&g| u8::from(g != 0)).collect(),
            _ => grey.to_vec(),
        };
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(color);
        encoder.set_depth(png::BitDepth::Eight);
        if color == png::ColorType::Indexed {
            encoder.set_palette(vec![0, 0, 0, 255, 255, 255]);
        }
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&pixels)?;
        writer.finish()?;
        Ok(out)
    }

    #[test]
    fn decoding_accepts_rgb_rgba_and_palette_images() {
        let content = "http://weixin.qq.com/q/abc";
        let png_bytes = render_png(content.as_bytes(), 4).unwrap();
        let mut reader = png::Decoder::new(png_bytes.as_slice()).read_info().unwrap();
        let mut grey = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut grey).unwrap();
        for color in [
            png::ColorType::Rgb,
            png::ColorType::Rgba,
            png::ColorType::Indexed,
        ] {
            let other = reencode(&grey, info.width, color).unwrap();
            assert_eq!(decode_png(&other).unwrap(), content, "{color:?}");
        }
    }

    #[test]
    fn decoding_refuses_non_png_and_code_free_images() {
        assert!(matches!(
            decode_png(b"GIF89a not a png"),
            Err(QrImageError::NotPng(_))
        ));
        let blank = reencode(&[0xFF; 64 * 64], 64, png::ColorType::Grayscale).unwrap();
        assert!(matches!(decode_png(&blank), Err(QrImageError::NoCode)));
    }
}
