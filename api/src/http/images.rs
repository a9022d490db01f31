//! Checking uploaded images, shared by every document that accepts them (Courtesy's avatars and
//! banners, team plans' certification pictures): the format is sniffed from the bytes (PNG and
//! JPEG only, whatever the client declared), the dimensions are read from the header *before*
//! any pixel is decoded (a small file can declare a huge canvas), and only then is the image
//! decoded with the `image` crate.

use image::{DynamicImage, ImageFormat};

/// What the header of an accepted image says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageHeader {
    /// PNG or JPEG.
    pub format: ImageFormat,
    /// `image/png` or `image/jpeg`.
    pub media_type: &'static str,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// The format and dimensions of `bytes`, read from the header only.
///
/// Errors: a reason for people ("not a PNG or JPEG image", or the header's fault).
pub fn header(bytes: &[u8]) -> Result<ImageHeader, String> {
    let format = image::guess_format(bytes).map_err(|_| "not a PNG or JPEG image".to_owned())?;
    let media_type = match format {
        ImageFormat::Png => "image/png",
        ImageFormat::Jpeg => "image/jpeg",
        _ => return Err("not a PNG or JPEG image".into()),
    };
    let (width, height) = image::ImageReader::with_format(std::io::Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| e.to_string())?;
    Ok(ImageHeader {
        format,
        media_type,
        width,
        height,
    })
}

/// Decode `bytes` whose header was read by [`header`] (call it after checking the dimensions).
///
/// Errors: why the pixels could not be decoded (truncated or corrupt data).
pub fn decode(bytes: &[u8], header: &ImageHeader) -> Result<DynamicImage, String> {
    image::load_from_memory_with_format(bytes, header.format).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn png_and_jpeg_only_and_truncation_is_caught_on_decoding() {
        let mut png = std::io::Cursor::new(Vec::new());
        DynamicImage::new_luma8(30, 20)
            .write_to(&mut png, ImageFormat::Png)
            .unwrap();
        let png = png.into_inner();
        let h = header(&png).unwrap();
        assert_eq!((h.media_type, h.width, h.height), ("image/png", 30, 20));
        decode(&png, &h).unwrap();
        assert!(decode(&png[..png.len() - 20], &h).is_err());
        let mut gif = std::io::Cursor::new(Vec::new());
        DynamicImage::new_rgb8(2, 2)
            .write_to(&mut gif, ImageFormat::Gif)
            .ok();
        assert!(header(&gif.into_inner()).is_err());
        assert!(header(b"%PDF-1.4 not an image").is_err());
    }
}
