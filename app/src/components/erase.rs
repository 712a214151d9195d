//! Erasing a view's type, without the asynchronous copy of its hydration.
//!
//! An `AnyView` (every route's view, and every `into_any()`) keeps a pointer to its view's
//! `hydrate_async`: a second, asynchronous copy of the view's whole hydration code, compiled
//! for every erased type though only lazy routes (`hydrate_lazy`) ever call it. The console
//! hydrates with `hydrate_body` and has no lazy route, so that copy is dead weight (about a
//! fifth of the WASM). [`Erase::erase`] wraps the view in [`Eager`], whose `hydrate_async` is
//! the trait's default, which hydrates synchronously; everything else passes straight through.
//!
//! Invariant: the console erases views with `erase()`, never `into_any()` (`clippy.toml`
//! disallows it), and routes' views are erased before the router erases them again.

use leptos::tachys::{
    html::attribute::{any_attribute::AnyAttribute, Attribute},
    hydration::Cursor,
    ssr::StreamBuilder,
    view::{
        add_attr::AddAnyAttr,
        any_view::{AnyView, IntoAny},
        Position, PositionState, Render, RenderHtml,
    },
};

/// A view that hydrates synchronously even when asked to hydrate asynchronously.
pub struct Eager<V>(V);

/// Type erasure for the console's views: `view.erase()` where Leptos would write
/// `view.into_any()`.
pub trait Erase: RenderHtml + Send + Sized {
    /// This view as an `AnyView`, without an asynchronous hydration of its own.
    fn erase(self) -> AnyView {
        #[allow(clippy::disallowed_methods)]
        Eager(self).into_any()
    }
}

impl<V: RenderHtml + Send> Erase for V {}

impl<V: Render> Render for Eager<V> {
    type State = V::State;

    fn build(self) -> Self::State {
        self.0.build()
    }

    fn rebuild(self, state: &mut Self::State) {
        self.0.rebuild(state)
    }
}

impl<V: AddAnyAttr> AddAnyAttr for Eager<V> {
    type Output<SomeNewAttr: Attribute> = Eager<V::Output<SomeNewAttr>>;

    fn add_any_attr<NewAttr: Attribute>(self, attr: NewAttr) -> Self::Output<NewAttr>
    where
        Self::Output<NewAttr>: RenderHtml,
    {
        Eager(self.0.add_any_attr(attr))
    }
}

impl<V: RenderHtml> RenderHtml for Eager<V> {
    type AsyncOutput = V::AsyncOutput;
    type Owned = Eager<V::Owned>;

    const MIN_LENGTH: usize = V::MIN_LENGTH;
    const EXISTS: bool = V::EXISTS;

    fn dry_resolve(&mut self) {
        self.0.dry_resolve()
    }

    async fn resolve(self) -> Self::AsyncOutput {
        self.0.resolve().await
    }

    fn html_len(&self) -> usize {
        self.0.html_len()
    }

    fn to_html_with_buf(
        self,
        buf: &mut String,
        position: &mut Position,
        escape: bool,
        mark_branches: bool,
        extra_attrs: Vec<AnyAttribute>,
    ) {
        self.0
            .to_html_with_buf(buf, position, escape, mark_branches, extra_attrs)
    }

    fn to_html_async_with_buf<const OUT_OF_ORDER: bool>(
        self,
        buf: &mut StreamBuilder,
        position: &mut Position,
        escape: bool,
        mark_branches: bool,
        extra_attrs: Vec<AnyAttribute>,
    ) {
        self.0
            .to_html_async_with_buf::<OUT_OF_ORDER>(buf, position, escape, mark_branches, extra_attrs)
    }

    fn hydrate<const FROM_SERVER: bool>(self, cursor: &Cursor, position: &PositionState) -> Self::State {
        self.0.hydrate::<FROM_SERVER>(cursor, position)
    }

    // `hydrate_async` is left to the trait's default: `hydrate`, synchronously.

    fn into_owned(self) -> Self::Owned {
        Eager(self.0.into_owned())
    }
}
