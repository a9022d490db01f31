//! The OpenTicket response envelope (seed 003 §1.2): success is `{"data": …, "meta": {"requestId",
//! "timestamp"}}`; and its JSON body extractor, whose rejections are [`OtError`]s naming the field.

use super::error::OtError;
use crate::http::body;
use crate::http::request_id::current_request_id;
use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::borrow::Cow;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, RefBuilder, Schema};
use utoipa::{PartialSchema, ToSchema};

/// The `meta` block of every OpenTicket response, success or error (seed 003 §1.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    /// The request's `x-request-id` (the client's own, or a UUID the server generated).
    #[schema(example = "0b6a3f0e-5a43-4d5c-9d7e-2f1f1c7c9a10")]
    pub request_id: String,
    /// Server time of the response, RFC 3339 UTC with milliseconds.
    #[schema(format = DateTime, example = "2025-01-20T10:00:00.000Z")]
    pub timestamp: String,
}

/// The `meta` block for the current request, stamped now.
pub fn meta() -> Meta {
    Meta {
        request_id: current_request_id(),
        timestamp: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
    }
}

/// A success body: `{"data": T, "meta": Meta}` (seed 003 §1.2). [`ok`] serializes it, and the
/// operations name it as their 2xx body through the aliases of `super::views`
/// (`VenueDetailResponse` …). In the document it is `{T}Response`, whose `data` refers to `T`'s own
/// schema.
#[derive(Debug, Clone, Serialize)]
pub struct Envelope<T> {
    /// The response's own body, `T`.
    pub data: T,
    /// Request id and server time.
    pub meta: Meta,
}

// Written by hand because utoipa inlines the schema of a generic argument (each envelope would
// repeat its `data` type in full) and names every instance `Envelope`.
impl<T: ToSchema> PartialSchema for Envelope<T> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some(format!(
                "`{{\"data\": {}, \"meta\": Meta}}`: a success (seed 003 §1.2).",
                T::name()
            )))
            .property(
                "data",
                RefBuilder::new()
                    .ref_location_from_schema_name(T::name())
                    .description(Some("The result.")),
            )
            .required("data")
            .property(
                "meta",
                RefBuilder::new()
                    .ref_location_from_schema_name(Meta::name())
                    .description(Some("Request id and server time.")),
            )
            .required("meta")
            .into()
    }
}

impl<T: ToSchema> ToSchema for Envelope<T> {
    fn name() -> Cow<'static, str> {
        Cow::Owned(format!("{}Response", T::name()))
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(schemas);
        schemas.push((Meta::name().into_owned(), Meta::schema()));
        Meta::schemas(schemas);
    }
}

/// A success response: `status` with `{"data": data, "meta": …}`. `T` must have a schema, so
/// that nothing is answered that the OpenAPI document cannot declare.
pub fn ok<T: Serialize + ToSchema>(status: StatusCode, data: T) -> Response {
    (status, Json(Envelope { data, meta: meta() })).into_response()
}

/// A JSON request body (`Content-Type: application/json` required). Rejections are OpenTicket
/// `VALIDATION_ERROR`s naming the field serde stopped at (`seatIds[1]`), or `body` for malformed
/// JSON and a wrong content type; 413 over the route's limit.
#[derive(Debug, Clone)]
pub struct OtJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OtJson<T> {
    type Rejection = OtError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body::read(req, state, true).await?;
        Ok(OtJson(body::parse_json(&bytes)?))
    }
}
