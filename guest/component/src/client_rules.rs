//! The client's rules exported beside its connections (`split-url`, `follow-redirect`,
//! `plan-request`, `form-data`, the `cookie-jar` resource): WIT types converted to and from
//! httplib-guest's `proto`, where the rules live.

use crate::bindings::exports::httplib::http::client as wc;
use crate::bindings::httplib::http::types as wtypes;
use httplib_guest::error::HttpError as Error;
use httplib_guest::proto;
use std::cell::RefCell;

/// The WIT record of a split URL.
fn url_parts(u: proto::url::UrlParts) -> wc::UrlParts {
    wc::UrlParts {
        scheme: u.scheme,
        host: u.host,
        port: u.port,
        target: u.target,
        userinfo: u.userinfo,
    }
}

/// `split-url`.
pub(crate) fn split_url(url: &str) -> Result<wc::UrlParts, Error> {
    let u = proto::url::split_url(url)?;
    Ok(url_parts(u))
}

/// `follow-redirect`.
pub(crate) fn follow_redirect(
    url: &str,
    method: &str,
    status: u16,
    location: Option<&str>,
    headers: &[wtypes::Header],
) -> Result<Option<wc::Redirect>, Error> {
    let next = proto::redirect::follow(url, method, status, location, headers)?;
    Ok(next.map(|r| wc::Redirect {
        url: r.url,
        method: r.method,
        keep_body: r.keep_body,
        same_origin: r.same_origin,
        headers: r.headers,
    }))
}

/// `plan-request`.
pub(crate) fn plan_request(
    url: &str,
    proxy: &wc::ProxySetting,
    credentials: Option<&str>,
    headers: &[wtypes::Header],
) -> Result<wc::RequestPlan, Error> {
    use proto::request_plan::{ProxySetting, Route, plan};
    let proxy = match proxy {
        wc::ProxySetting::Direct => ProxySetting::Direct,
        wc::ProxySetting::Url(p) => ProxySetting::Url(p),
        wc::ProxySetting::Environment(env) => ProxySetting::Environment(env),
    };
    let plan = plan(url, proxy, credentials, headers)?;
    let address = |p: proto::proxy::ProxyAddress| wc::ProxyAddress {
        host: p.host,
        port: p.port,
    };
    Ok(wc::RequestPlan {
        url: url_parts(plan.url),
        route: match plan.route {
            Route::Direct => wc::Route::Direct,
            Route::Forward(p) => wc::Route::Forward(address(p)),
            Route::Tunnel(p) => wc::Route::Tunnel(address(p)),
        },
        target: plan.target,
        headers: plan.headers,
        tunnel_headers: plan.tunnel_headers,
    })
}

/// `form-data`.
pub(crate) fn form_data(boundary: &str, parts: Vec<wc::FormPart>) -> wc::FormLayout {
    use proto::form::{FormPart, PartSource, multipart};
    let parts: Vec<FormPart> = parts
        .into_iter()
        .map(|p| FormPart {
            name: p.name,
            filename: p.filename,
            content_type: p.content_type,
            source: match p.source {
                wc::PartSource::Value => PartSource::Value,
                wc::PartSource::File => PartSource::File,
                wc::PartSource::Pipe => PartSource::Pipe,
            },
            length: p.length,
        })
        .collect();
    let layout = multipart(boundary, &parts);
    wc::FormLayout {
        content_type: layout.content_type,
        prefixes: layout.prefixes,
        closing: layout.closing,
        length: layout.length,
    }
}

/// The exported `cookie-jar` resource.
pub(crate) struct CookieJarResource(RefCell<proto::cookie::CookieJar>);

impl wc::GuestCookieJar for CookieJarResource {
    fn new() -> Self {
        Self(RefCell::new(Default::default()))
    }

    fn load(&self, netscape: String) {
        self.0.borrow_mut().load(&netscape, httplib_guest::clock::now_secs());
    }

    fn set_cookie(&self, url: String, value: String) {
        self.0
            .borrow_mut()
            .set_cookie(&url, &value, httplib_guest::clock::now_secs());
    }

    fn cookie_header(&self, url: String) -> Option<String> {
        self.0.borrow().header(&url, httplib_guest::clock::now_secs())
    }

    fn save(&self) -> String {
        self.0.borrow().save(httplib_guest::clock::now_secs())
    }
}
