//! The printable sheet `tessera courtesy qr generate --out FILE` writes: one PNG with every new
//! code in a grid, each encoding its bare id (32 lower-case hex, what `qr_query` takes).

use image::{GrayImage, ImageFormat, Luma};
use qrcode::{EcLevel, QrCode};

/// Codes per row of the sheet.
pub const COLUMNS: u32 = 4;
/// Pixels per QR module (about 2 cm per code at 150 dpi).
pub const MODULE_PIXELS: u32 = 6;
/// White space between codes, in pixels.
const GAP: u32 = 24;

/// The sheet of `ids` as PNG bytes (white page, black modules, quiet zone around each code).
///
/// Errors: a message when an id cannot be encoded or the PNG cannot be written.
pub fn sheet_png(ids: &[String]) -> Result<Vec<u8>, String> {
    let codes: Vec<GrayImage> = ids
        .iter()
        .map(|id| {
            QrCode::with_error_correction_level(id.as_bytes(), EcLevel::M)
                .map(|qr| {
                    qr.render::<Luma<u8>>()
                        .module_dimensions(MODULE_PIXELS, MODULE_PIXELS)
                        .quiet_zone(true)
                        .build()
                })
                .map_err(|e| format!("QR code for {id}: {e}"))
        })
        .collect::<Result<_, _>>()?;
    let side = codes.iter().map(GrayImage::width).max().unwrap_or(0);
    let n = u32::try_from(codes.len()).map_err(|e| e.to_string())?;
    let cols = n.clamp(1, COLUMNS);
    let rows = n.div_ceil(COLUMNS).max(1);
    let mut sheet = GrayImage::from_pixel(
        cols * (side + GAP) + GAP,
        rows * (side + GAP) + GAP,
        Luma([255]),
    );
    for (i, code) in (0u32..).zip(&codes) {
        let x = GAP + (i % COLUMNS) * (side + GAP);
        let y = GAP + (i / COLUMNS) * (side + GAP);
        image::imageops::replace(&mut sheet, code, i64::from(x), i64::from(y));
    }
    let mut out = std::io::Cursor::new(Vec::new());
    sheet
        .write_to(&mut out, ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}
