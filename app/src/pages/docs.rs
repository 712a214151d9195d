//! API documentation: what an application sends to the inference API (routes, the key in each
//! shape, what comes back, how a refusal reads) and where the management API is (the GraphQL
//! explorer, the schema). The same facts as the README's, for the person at the console.
//!
//! The page is static text, so it is one HTML string: no view code for the browser to carry
//! (the WASM stays small), the same markup on the server and after hydration.

use crate::components::PageHeader;
use leptos::prelude::*;
use leptos_meta::Title;

/// The page's body. Plain text only: nothing in it comes from a user.
const BODY: &str = r#"<div class="space-y-6">
<section class="rounded-xl border border-slate-200 bg-white p-5 shadow-sm" aria-labelledby="docs-inference">
<h2 id="docs-inference" class="text-base font-semibold text-slate-900">Inference API</h2>
<p class="mt-2 text-sm text-slate-700">Applications call the gateway as they would call OpenAI, Azure OpenAI or Anthropic, with a gateway key (made on the Keys page) instead of the provider's. The key picks the gateway; the gateway picks the endpoint.</p>
<div class="mt-3 overflow-x-auto"><table class="min-w-full divide-y divide-slate-200 text-sm" data-testid="docs-routes">
<caption class="sr-only">Inference routes</caption>
<thead class="text-left text-xs uppercase tracking-wide text-slate-500"><tr><th scope="col" class="py-2 pr-4">Route</th><th scope="col" class="py-2 pr-4">Shape</th><th scope="col" class="py-2">What</th></tr></thead>
<tbody class="divide-y divide-slate-100">
<tr><td class="py-2 pr-4"><code class="text-xs">POST /v1/chat/completions</code></td><td class="py-2 pr-4 text-slate-600">OpenAI</td><td class="py-2 text-slate-600">Chat, streamed with "stream": true</td></tr>
<tr><td class="py-2 pr-4"><code class="text-xs">POST /v1/completions</code></td><td class="py-2 pr-4 text-slate-600">OpenAI</td><td class="py-2 text-slate-600">Text completions</td></tr>
<tr><td class="py-2 pr-4"><code class="text-xs">POST /v1/embeddings</code></td><td class="py-2 pr-4 text-slate-600">OpenAI</td><td class="py-2 text-slate-600">Embeddings</td></tr>
<tr><td class="py-2 pr-4"><code class="text-xs">GET /v1/models</code></td><td class="py-2 pr-4 text-slate-600">OpenAI</td><td class="py-2 text-slate-600">The models the key's gateway offers</td></tr>
<tr><td class="py-2 pr-4"><code class="text-xs">POST /v1/messages</code></td><td class="py-2 pr-4 text-slate-600">Anthropic</td><td class="py-2 text-slate-600">Messages (max_tokens required), streamed or not</td></tr>
<tr><td class="py-2 pr-4"><code class="text-xs">POST /openai/deployments/{model}/chat/completions</code></td><td class="py-2 pr-4 text-slate-600">Azure OpenAI</td><td class="py-2 text-slate-600">Chat; the deployment is the model</td></tr>
<tr><td class="py-2 pr-4"><code class="text-xs">POST /openai/deployments/{model}/completions</code></td><td class="py-2 pr-4 text-slate-600">Azure OpenAI</td><td class="py-2 text-slate-600">Text completions</td></tr>
<tr><td class="py-2 pr-4"><code class="text-xs">POST /openai/deployments/{model}/embeddings</code></td><td class="py-2 pr-4 text-slate-600">Azure OpenAI</td><td class="py-2 text-slate-600">Embeddings</td></tr>
</tbody></table></div>
<h3 class="mt-4 text-sm font-semibold text-slate-900">The key</h3>
<p class="mt-2 text-sm text-slate-700">Send it the way the shape's own SDK does: <code>Authorization: Bearer mgw_…</code> (OpenAI), <code>api-key: mgw_…</code> (Azure) or <code>x-api-key: mgw_…</code> (Anthropic). Any of the three works on every route.</p>
<pre class="mt-2 overflow-x-auto rounded-lg bg-slate-900 p-3 text-xs text-slate-100"><code>curl $GATEWAY/v1/chat/completions \
  -H "Authorization: Bearer $MGW_KEY" \
  -H "Content-Type: application/json" \
  -d '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}'</code></pre>
<h3 class="mt-4 text-sm font-semibold text-slate-900">What comes back</h3>
<p class="mt-2 text-sm text-slate-700">The provider's answer in the shape you called, with <code>x-request-id</code> (find the request under Logs by it) and OpenAI's <code>x-ratelimit-limit-*</code>, <code>x-ratelimit-remaining-*</code> and <code>x-ratelimit-reset-*</code> headers for the key's request and token limits.</p>
<h3 class="mt-4 text-sm font-semibold text-slate-900">Refusals and errors</h3>
<p class="mt-2 text-sm text-slate-700">An error is JSON in OpenAI's shape, <code>{"error": {"message", "type", "param", "code"}}</code>: 401 for a missing, wrong, revoked or expired key; 403 for a model the key may not use; 404 for a model its gateway does not offer; 429 with <code>Retry-After</code> when a limit is reached; 502 or 504 when no endpoint could answer in time.</p>
</section>
<section class="rounded-xl border border-slate-200 bg-white p-5 shadow-sm" aria-labelledby="docs-management">
<h2 id="docs-management" class="text-base font-semibold text-slate-900">Management API</h2>
<p class="mt-2 text-sm text-slate-700">Everything this console does is scriptable in GraphQL at <code>POST /graphql</code>, with an admin API token (Settings → Admin API tokens) as <code>Authorization: Bearer mgwa_…</code>.</p>
<p class="mt-2 text-sm text-slate-700"><a href="/graphql" rel="external" class="font-medium text-indigo-600 hover:underline">Open the GraphQL explorer</a> — run queries, mutations and subscriptions as yourself, and browse the schema.</p>
<pre class="mt-2 overflow-x-auto rounded-lg bg-slate-900 p-3 text-xs text-slate-100"><code>curl $GATEWAY/graphql \
  -H "Authorization: Bearer $MGW_ADMIN_TOKEN" \
  -H "Content-Type: application/json" \
  -d '{"query": "{ gateways { name strategy } }"}'</code></pre>
</section>
</div>"#;

/// The API documentation page.
#[component]
pub fn DocsPage() -> impl IntoView {
    view! {
        <Title text="API documentation"/>
        <PageHeader title="API documentation" description="What applications send to the gateway, and how to script its management."/>
        <div inner_html=BODY></div>
    }
}
