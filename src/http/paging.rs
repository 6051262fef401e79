//! The query of every keyset-paged list: `limit` and `cursor`.

use serde::Deserialize;
use utoipa::IntoParams;

use crate::domain::{FieldErrors, model::PageRequest};

#[derive(Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page: 1 to 1000, 100 when absent.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// Where the page starts: the `cursor` the previous page handed out as its next.
    cursor: Option<String>,
}

impl TryFrom<PageQuery> for PageRequest {
    type Error = FieldErrors;

    fn try_from(q: PageQuery) -> Result<Self, FieldErrors> {
        PageRequest::parse(q.limit.as_deref(), q.cursor.as_deref()).map_err(|(f, why)| FieldErrors::single(f, why))
    }
}
