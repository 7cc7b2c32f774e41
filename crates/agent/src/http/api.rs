//! One list of handlers per area, two products: the routes the agent serves, registered at
//! start from each handler's path and methods alone, and the area's part of the OpenAPI
//! document, built only in the tests that make the committed document (`http::openapi`): the
//! agent's build has no document builders at all.
//!
//! utoipa-axum's `OpenApiRouter` builds both at once: registering a route runs the handler's
//! `utoipa::Path::operation()` (parameters, bodies, responses, their schemas) and merges the
//! result into the area's document. With some 160 operations that was most of the idle heap
//! (heaptrack, session 8: 7.3 MiB) and of the start time, and it touched the code of every
//! operation's document builder, for a document the serving router then dropped. Here
//! [`routes!`] keeps the document's part as a function to call later, and the document is
//! replayed through `OpenApiRouter` in the same order as before, so its bytes do not change.

use axum::routing::MethodRouter;
use axum::Router;
use utoipa::openapi::path::HttpMethod;
#[cfg(test)]
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

use super::AppState;

/// The handlers of one `routes!(...)`: each with its path and its method router, and the
/// document's part for all of them.
pub struct Routes {
    pub serve: Vec<(String, Vec<HttpMethod>, MethodRouter<AppState>)>,
    #[cfg(test)]
    pub document: fn() -> UtoipaMethodRouter<AppState>,
}

/// How an area's document is made, step by step, in the order its router function wrote it.
#[cfg(test)]
enum Part {
    Routes(fn() -> UtoipaMethodRouter<AppState>),
    Merge(Vec<Part>),
}

/// An area's routes and the recipe of its document (see the module's comment).
#[derive(Default)]
pub struct ApiRouter {
    router: Router<AppState>,
    #[cfg(test)]
    document: Vec<Part>,
    served: Vec<(String, HttpMethod)>,
}

impl ApiRouter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves the handlers of one [`routes!`] and adds them to the document.
    pub fn routes(mut self, routes: Routes) -> Self {
        for (path, methods, method_router) in routes.serve {
            self.served
                .extend(methods.into_iter().map(|m| (path.clone(), m)));
            self.router = self.router.route(&path, method_router);
        }
        #[cfg(test)]
        self.document.push(Part::Routes(routes.document));
        self
    }

    pub fn merge(mut self, other: ApiRouter) -> Self {
        self.router = self.router.merge(other.router);
        #[cfg(test)]
        self.document.push(Part::Merge(other.document));
        self.served.extend(other.served);
        self
    }

    /// A layer on the routes served so far; the document does not show layers.
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: tower::Service<axum::extract::Request> + Clone + Send + Sync + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Response:
            axum::response::IntoResponse + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Error:
            Into<std::convert::Infallible> + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Future: Send + 'static,
    {
        self.router = self.router.layer(layer);
        self
    }

    /// The routes to serve.
    pub fn into_router(self) -> Router<AppState> {
        self.router
    }

    /// Each served path and method, in the order registered.
    pub fn served(&self) -> &[(String, HttpMethod)] {
        &self.served
    }

    /// The area's document, made now: the same `OpenApiRouter` calls, in the same order, that
    /// registering the routes through it made.
    #[cfg(test)]
    pub fn document(&self) -> OpenApiRouter<AppState> {
        replay(&self.document)
    }
}

#[cfg(test)]
fn replay(parts: &[Part]) -> OpenApiRouter<AppState> {
    parts
        .iter()
        .fold(OpenApiRouter::new(), |api, part| match part {
            Part::Routes(document) => api.routes(document()),
            Part::Merge(area) => api.merge(replay(area)),
        })
}

/// Like `utoipa_axum::routes!`, for [`ApiRouter::routes`]: handlers annotated with
/// `#[utoipa::path]`, served at their path for their methods, documented later.
macro_rules! routes {
    // Each handler as its path's segments (idents pass on to utoipa-axum's own macro, which
    // names the handler's `__path_` type; a captured `path` fragment would not).
    ( $( $($segment:ident)::+ ),+ $(,)? ) => {
        $crate::http::api::Routes {
            serve: vec![ $( {
                let path = ::utoipa_axum::routes!(@path [path()] of $($segment)::+);
                let methods = ::utoipa_axum::routes!(@path [methods()] of $($segment)::+);
                let method_router = methods.iter().fold(
                    ::axum::routing::MethodRouter::new(),
                    |router, method| {
                        router.on(
                            ::utoipa_axum::PathItemExt::to_method_filter(method),
                            $($segment)::+,
                        )
                    },
                );
                (path, methods, method_router)
            } ),+ ],
            #[cfg(test)]
            document: || ::utoipa_axum::routes!( $( $($segment)::+ ),+ ),
        }
    };
}
pub(crate) use routes;

#[cfg(test)]
mod tests {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;
    use std::collections::BTreeSet;

    use utoipa::openapi::path::HttpMethod;

    /// Counts the bytes each thread allocates, so that a test can weigh what it runs on its
    /// own thread, whatever other tests do at the same time (this test binary only).
    struct Counting;

    thread_local! {
        static ALLOCATED: Cell<usize> = const { Cell::new(0) };
    }

    // SAFETY: every call is passed on to the system allocator unchanged; the count is a
    // thread-local cell without a destructor, which allocates nothing.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let _ = ALLOCATED.try_with(|a| a.set(a.get() + layout.size()));
            // SAFETY: the caller's contract, passed on.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: the caller's contract, passed on.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let grown = new_size.saturating_sub(layout.size());
            let _ = ALLOCATED.try_with(|a| a.set(a.get() + grown));
            // SAFETY: the caller's contract, passed on.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static COUNTING: Counting = Counting;

    fn allocated_by<T>(f: impl FnOnce() -> T) -> usize {
        let before = ALLOCATED.with(Cell::get);
        drop(f());
        ALLOCATED.with(Cell::get) - before
    }

    /// Registering the routes at start builds no part of the OpenAPI document: with
    /// utoipa-axum's router it built every operation (schemas, responses) and merged them,
    /// megabytes at start for a document nobody had asked for (heaptrack: most of the idle
    /// heap), and it touched the code of every operation's document builder.
    #[test]
    fn serving_routes_are_registered_without_building_the_document() {
        let serving = allocated_by(|| {
            crate::http::areas().into_iter().fold(
                axum::Router::<crate::http::AppState>::new(),
                |all, (_, a)| all.merge(a.into_router()),
            )
        });
        let document = allocated_by(crate::http::openapi::make::document);
        eprintln!("allocated: serving routes {serving} bytes, the document {document} bytes");
        assert!(
            serving * 4 < document,
            "registering the routes allocated {serving} bytes, building the document {document}"
        );
    }

    /// Every route the agent serves is in the OpenAPI document, and every operation the
    /// document lists is served, at the same path and method: the access and injection tests,
    /// schemathesis and clients all walk the document, and a route missing from it is never
    /// checked (nor usable), while a documented one that is not served is a broken promise.
    #[test]
    fn every_served_route_is_documented_and_every_documented_one_served() {
        let mut served = BTreeSet::new();
        for (_, area) in crate::http::areas() {
            served.extend(
                area.served()
                    .iter()
                    .map(|(path, method)| (path.clone(), method_name(method))),
            );
        }
        let doc = crate::http::openapi::make::document();
        let mut documented = BTreeSet::new();
        for (path, item) in &doc.paths.paths {
            let ops = [
                ("GET", &item.get),
                ("PUT", &item.put),
                ("POST", &item.post),
                ("DELETE", &item.delete),
                ("PATCH", &item.patch),
                ("HEAD", &item.head),
                ("OPTIONS", &item.options),
                ("TRACE", &item.trace),
            ];
            for (method, op) in ops {
                if op.is_some() {
                    documented.insert((path.clone(), method));
                }
            }
        }
        let undocumented: Vec<_> = served.difference(&documented).collect();
        let unserved: Vec<_> = documented.difference(&served).collect();
        assert!(
            undocumented.is_empty() && unserved.is_empty(),
            "served, not documented: {undocumented:?}; documented, not served: {unserved:?}"
        );
        // The lists are the API, not empty ones that agree.
        assert!(served.len() > 100, "{} routes", served.len());
    }

    fn method_name(method: &HttpMethod) -> &'static str {
        match method {
            HttpMethod::Get => "GET",
            HttpMethod::Put => "PUT",
            HttpMethod::Post => "POST",
            HttpMethod::Delete => "DELETE",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Head => "HEAD",
            HttpMethod::Options => "OPTIONS",
            HttpMethod::Trace => "TRACE",
        }
    }
}
