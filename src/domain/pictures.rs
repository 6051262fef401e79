//! Profile pictures: decoded to prove they are pictures, re-encoded so that nothing but
//! pixels is kept (no EXIF location, no second payload of a polyglot file), scaled down,
//! and stored under a generated name in the blob store, beside the users' files.

use std::{io::Cursor, sync::Arc};

use bytes::Bytes;
use futures_util::stream::BoxStream;
use image::{DynamicImage, ImageFormat, ImageReader, Limits, codecs::jpeg::JpegEncoder, imageops::FilterType};

use super::{
    crypto,
    error::{Error, Invalid, Result},
    model::{PictureFormat, PictureName},
    ports::BlobStore,
};

/// The limits of a picture, documented in docs/decisions.md.
#[derive(Debug, Clone, Copy)]
pub struct PictureLimits {
    /// Largest upload accepted, in bytes.
    pub max_bytes: u64,
    /// Largest width or height accepted, in pixels; checked from the header, before any
    /// pixel is decoded.
    pub max_dimension: u32,
    /// Most memory a decoder may allocate.
    pub max_alloc: u64,
    /// Longest edge of what is kept; larger pictures are scaled down.
    pub kept_edge: u32,
}

impl Default for PictureLimits {
    fn default() -> Self {
        PictureLimits { max_bytes: 5 * 1024 * 1024, max_dimension: 8192, max_alloc: 256 * 1024 * 1024, kept_edge: 1024 }
    }
}

/// A picture ready to keep: re-encoded bytes and the format they are in.
pub struct Prepared {
    pub bytes: Vec<u8>,
    pub format: PictureFormat,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared").field("bytes", &self.bytes.len()).field("format", &self.format).finish()
    }
}

#[derive(Clone)]
pub struct Pictures {
    blobs: Arc<dyn BlobStore>,
    limits: PictureLimits,
}

impl Pictures {
    pub fn new(blobs: Arc<dyn BlobStore>, limits: PictureLimits) -> Self {
        Pictures { blobs, limits }
    }

    pub fn limits(&self) -> PictureLimits {
        self.limits
    }

    /// Checks an upload is a picture and re-encodes it (see [`prepare`]), on the blocking
    /// pool so a large picture does not hold up other requests. The error is the reason to
    /// report on the picture's field.
    pub async fn prepare(&self, upload: Bytes) -> std::result::Result<Prepared, Invalid> {
        let limits = self.limits;
        tokio::task::spawn_blocking(move || prepare(&upload, limits)).await.unwrap_or(Err(Invalid::NotAnImage))
    }

    /// Stores a prepared picture under a new name.
    pub async fn store(&self, picture: Prepared) -> Result<PictureName> {
        let name = PictureName::new(&crypto::random_token(16)?, picture.format)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("generated picture name did not parse")))?;
        let mut writer = self.blobs.writer(&name.blob_key()).await?;
        if let Err(e) = writer.write(Bytes::from(picture.bytes)).await {
            writer.abort().await;
            return Err(e);
        }
        writer.finish().await?;
        Ok(name)
    }

    /// The stored bytes of a picture; `NotFound` for a name userd never kept.
    pub async fn content(&self, name: &PictureName) -> Result<BoxStream<'static, std::io::Result<Bytes>>> {
        self.blobs.read(&name.blob_key()).await
    }

    /// Removes a picture's bytes (a picture that was replaced, or whose owner's change failed).
    pub async fn discard(&self, name: &PictureName) {
        if let Err(e) = self.blobs.delete(&name.blob_key()).await {
            tracing::warn!(error = %e, picture = %name, "removing a picture's bytes failed");
        }
    }
}

fn not_an_image<E>(_: E) -> Invalid {
    Invalid::NotAnImage
}

/// Proves `upload` is a PNG, JPEG, WebP or GIF by decoding it within `limits`, and
/// re-encodes its pixels: JPEG stays JPEG (quality 85), everything else becomes PNG (the
/// first frame of an animation). Only pixels survive, never metadata or trailing bytes.
pub fn prepare(upload: &[u8], limits: PictureLimits) -> std::result::Result<Prepared, Invalid> {
    if upload.len() as u64 > limits.max_bytes {
        return Err(Invalid::ImageTooLarge { max_bytes: limits.max_bytes });
    }
    let reader = ImageReader::new(Cursor::new(upload)).with_guessed_format().map_err(not_an_image)?;
    let format = match reader.format() {
        Some(f @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif)) => f,
        _ => return Err(Invalid::NotAnImage),
    };
    // The header alone says how large the picture claims to be: refuse before decoding.
    let (width, height) = reader.into_dimensions().map_err(not_an_image)?;
    if width == 0 || height == 0 {
        return Err(Invalid::NotAnImage);
    }
    if width > limits.max_dimension || height > limits.max_dimension {
        return Err(Invalid::ImageDimensions { max: limits.max_dimension });
    }
    let mut reader = ImageReader::with_format(Cursor::new(upload), format);
    let mut decoder_limits = Limits::default();
    decoder_limits.max_image_width = Some(limits.max_dimension);
    decoder_limits.max_image_height = Some(limits.max_dimension);
    decoder_limits.max_alloc = Some(limits.max_alloc);
    reader.limits(decoder_limits);
    let image = reader.decode().map_err(not_an_image)?;
    let image = if image.width() > limits.kept_edge || image.height() > limits.kept_edge {
        image.resize(limits.kept_edge, limits.kept_edge, FilterType::Lanczos3)
    } else {
        image
    };
    let mut bytes = Vec::new();
    let kept = if format == ImageFormat::Jpeg {
        let rgb = DynamicImage::ImageRgb8(image.to_rgb8());
        rgb.write_with_encoder(JpegEncoder::new_with_quality(&mut bytes, 85)).map_err(not_an_image)?;
        PictureFormat::Jpeg
    } else {
        let rgba = DynamicImage::ImageRgba8(image.to_rgba8());
        rgba.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png).map_err(not_an_image)?;
        PictureFormat::Png
    };
    Ok(Prepared { bytes, format: kept })
}
