//! Avatar and banner rules (seed 001 "尺寸不合要求 Size Dismatch" → 422): sniff and decode with the
//! neutral [`crate::http::images`] (PNG and JPEG only), check dimensions, and render the served PNG files.
//!
//! | kind | accepted | files served |
//! | --- | --- | --- |
//! | avatar | square (width = height), 60–4096 px | `{id}.png` (full size), `{id}_60.png`, `{id}_150.png`, `{id}_300.png` (the sizes the iOS client requests) |
//! | banner | width ≥ height, width 320–4096 px, height ≥ 100 px | `{id}.png` (full size), `{id}_750.png` (750 px wide) |

use image::{ImageFormat, imageops::FilterType};
use tessera_application::courtesy::ImageInput;
use tessera_domain::courtesy::account::ImageKind;

/// Avatar variants the client asks for (`kAvatarSizeSmall/Middle/Large`).
pub const AVATAR_SIZES: [u32; 3] = [60, 150, 300];

/// Decode and check `bytes` as `kind`; the files to store, or why it was refused (a 422).
///
/// Errors: a reason naming what is wrong (format, dimensions).
pub fn prepare(kind: ImageKind, bytes: Vec<u8>) -> Result<ImageInput, String> {
    // Dimensions come from the header first: an image too large is refused before its pixels
    // are decoded (a small file can declare a huge canvas).
    let header = crate::http::images::header(&bytes)?;
    let (w, h) = (header.width, header.height);
    match kind {
        ImageKind::Avatar if w != h || !(60..=4096).contains(&w) => {
            return Err(format!(
                "an avatar must be square, 60 to 4096 px; got {w}×{h}"
            ));
        }
        ImageKind::Banner if w < h || !(320..=4096).contains(&w) || h < 100 => {
            return Err(format!(
                "a banner must be landscape, 320 to 4096 px wide, at least 100 px high; got {w}×{h}"
            ));
        }
        _ => {}
    }
    let img = crate::http::images::decode(&bytes, &header)?;
    let mut files = vec![(".png".to_owned(), png(&img)?)];
    match kind {
        ImageKind::Avatar => {
            for size in AVATAR_SIZES {
                let small = img.resize_exact(size, size, FilterType::Lanczos3);
                files.push((format!("_{size}.png"), png(&small)?));
            }
        }
        ImageKind::Banner => {
            let small = img.resize(750, 750 * h / w.max(1) + 1, FilterType::Lanczos3);
            files.push(("_750.png".to_owned(), png(&small)?));
        }
    }
    Ok(ImageInput {
        kind,
        original: bytes,
        media_type: header.media_type.into(),
        width: w,
        height: h,
        files,
    })
}

fn png(img: &image::DynamicImage) -> Result<Vec<u8>, String> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn png_of(w: u32, h: u32) -> Vec<u8> {
        png(&image::DynamicImage::new_luma8(w, h)).unwrap()
    }

    #[test]
    fn dimensions_are_checked_before_decoding_and_variants_made() {
        let wide = prepare(ImageKind::Banner, png_of(5000, 100)).unwrap_err();
        assert!(wide.contains("5000×100"), "{wide}");
        let oblong = prepare(ImageKind::Avatar, png_of(61, 60)).unwrap_err();
        assert!(oblong.contains("61×60"), "{oblong}");
        let avatar = prepare(ImageKind::Avatar, png_of(60, 60)).unwrap();
        let suffixes: Vec<&str> = avatar.files.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(suffixes, [".png", "_60.png", "_150.png", "_300.png"]);
        let banner = prepare(ImageKind::Banner, png_of(320, 100)).unwrap();
        let (suffix, bytes) = &banner.files[1];
        assert_eq!(suffix, "_750.png");
        assert_eq!(image::load_from_memory(bytes).unwrap().width(), 750);
        assert!(prepare(ImageKind::Avatar, b"not an image".to_vec()).is_err());
    }
}
