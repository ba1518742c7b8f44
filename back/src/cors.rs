//! CORS for a front served from another origin (`CORS_ALLOW_ORIGIN`). The router asks
//! `allowed_origin` before handling a request, then `decorate`s the response; preflight answers
//! also get `preflight`. An origin that is not allowed gets no CORS header at all.

use hyper::header::{
    HeaderMap, HeaderValue, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};

use crate::config::CorsOrigins;
use crate::http::Response;

const ALLOW_HEADERS: HeaderValue = HeaderValue::from_static("Authorization, Content-Type");
/// How long a browser may cache a preflight answer (10 minutes).
const MAX_AGE: HeaderValue = HeaderValue::from_static("600");
const ANY: HeaderValue = HeaderValue::from_static("*");

pub(crate) struct Cors {
    origins: CorsOrigins,
}

impl Cors {
    pub(crate) fn new(origins: &CorsOrigins) -> Self {
        Cors { origins: origins.clone() }
    }

    /// The `Access-Control-Allow-Origin` value for this request, if its `Origin` is allowed.
    pub(crate) fn allowed_origin(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        match &self.origins {
            CorsOrigins::None => None,
            CorsOrigins::Any => headers.contains_key(ORIGIN).then_some(ANY),
            CorsOrigins::List(list) => {
                let origin = headers.get(ORIGIN)?;
                let text = origin.to_str().ok()?;
                list.iter().any(|allowed| allowed.eq_ignore_ascii_case(text)).then(|| origin.clone())
            }
        }
    }

    /// Adds the CORS headers of an allowed origin to any response.
    pub(crate) fn decorate(&self, response: &mut Response, origin: Option<HeaderValue>) {
        let headers = response.headers_mut();
        if matches!(self.origins, CorsOrigins::List(_)) {
            // The answer depends on the request's Origin: caches must key on it.
            headers.append(VARY, HeaderValue::from_static("Origin"));
        }
        if let Some(origin) = origin {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        }
    }

    /// Adds what a preflight answer needs, when the request is one from an allowed origin.
    pub(crate) fn preflight(request: &HeaderMap, allowed: bool, methods: HeaderValue, response: &mut Response) {
        if !allowed || !request.contains_key(ACCESS_CONTROL_REQUEST_METHOD) {
            return;
        }
        let headers = response.headers_mut();
        headers.insert(ACCESS_CONTROL_ALLOW_METHODS, methods);
        headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS);
        headers.insert(ACCESS_CONTROL_MAX_AGE, MAX_AGE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(origin: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(origin) = origin {
            headers.insert(ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        headers
    }

    #[test]
    fn none_never_allows() {
        let cors = Cors::new(&CorsOrigins::None);
        assert_eq!(cors.allowed_origin(&request(Some("http://a.example"))), None);
    }

    #[test]
    fn any_answers_star_to_any_origin() {
        let cors = Cors::new(&CorsOrigins::Any);
        assert_eq!(cors.allowed_origin(&request(Some("http://a.example"))), Some(ANY));
        assert_eq!(cors.allowed_origin(&request(None)), None);
    }

    #[test]
    fn list_echoes_listed_origins_only() {
        let cors = Cors::new(&CorsOrigins::List(vec!["http://localhost:8080".into()]));
        assert_eq!(
            cors.allowed_origin(&request(Some("http://localhost:8080"))),
            Some(HeaderValue::from_static("http://localhost:8080"))
        );
        assert_eq!(cors.allowed_origin(&request(Some("http://evil.example"))), None);
        assert_eq!(cors.allowed_origin(&request(None)), None);
    }
}
