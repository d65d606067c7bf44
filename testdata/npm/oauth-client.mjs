#!/usr/bin/env node
// The official TypeScript SDK's MCP client signing in to mailcal's OAuth
// server, as claude.ai or Claude Desktop would: the end-to-end tests in
// cmd/mailcal/e2e (oauth_server_test.go) run it on the pinned Node 22.
//
// It connects Client + StreamableHTTPClientTransport to a tenant's MCP
// endpoint with an in-memory OAuthClientProvider. The 401 starts the SDK's
// discovery (protected-resource metadata, authorization-server metadata),
// its client identification (a Client ID Metadata Document URL with --mode
// cimd, Dynamic Client Registration with --mode dcr) and its authorization
// request (PKCE S256, resource, state). redirectToAuthorization plays the
// person's browser: it follows mailcal's /authorize (picking the wanted
// provider's button on mailcal's consent page), the fake provider's consent (which
// approves at once) and mailcal's callback, up to the redirect to the
// client's redirect_uri, which it does not fetch: it takes the code from
// it. Then finishAuth exchanges the code, the client connects again, lists
// the tools and calls list_accounts; then tokens() hands out a spoilt access
// token with the valid refresh token, so that the SDK meets a 401, refreshes
// and calls again.
//
// Output: one JSON line on stdout (what the test checks); errors on stderr
// and a non-zero exit. No token, code or verifier is ever printed: URLs are
// shown without their query.
//
//   node oauth-client.mjs --server URL --redirect-uri URL --mode cimd|dcr
//        [--client-metadata-url URL] [--provider google|microsoft]
//        [--provider-param] [--login-hint EMAIL] [--deadline-ms N]

import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const { values: opts } = parseArgs({
  options: {
    server: { type: 'string' },
    'redirect-uri': { type: 'string' },
    mode: { type: 'string' },
    'client-metadata-url': { type: 'string' },
    provider: { type: 'string' },
    'provider-param': { type: 'boolean', default: false },
    'login-hint': { type: 'string' },
    'deadline-ms': { type: 'string', default: '90000' },
  },
  strict: true,
});

function fail(msg) {
  process.stderr.write(`oauth-client: ${msg}\n`);
  process.exit(1);
}

if (!opts.server || !opts['redirect-uri']) fail('--server and --redirect-uri are required');
if (opts.mode !== 'cimd' && opts.mode !== 'dcr') fail(`--mode must be cimd or dcr, not ${JSON.stringify(opts.mode)}`);
if (opts.mode === 'cimd' && !opts['client-metadata-url']) fail('--mode cimd needs --client-metadata-url');
if (opts.provider && !['google', 'microsoft'].includes(opts.provider)) fail('--provider must be google or microsoft');
const deadlineMs = Number(opts['deadline-ms']);
if (!Number.isInteger(deadlineMs) || deadlineMs < 1000 || deadlineMs > 600000) fail('--deadline-ms must be an integer from 1000 to 600000');

// The whole run is bounded; each request too.
setTimeout(() => fail(`not done within ${deadlineMs} ms`), deadlineMs).unref();
const REQUEST_TIMEOUT_MS = 30000;

const serverUrl = new URL(opts.server);
const redirectUri = opts['redirect-uri'];

// A URL as it may be shown: never its query (codes, states, challenges).
const shown = (u) => {
  const url = new URL(String(u));
  return url.origin + url.pathname;
};

// --- the SDK's requests, recorded and bounded

const seen = []; // {method, url, status, grant_type?}
async function recordingFetch(input, init = {}) {
  const url = input instanceof Request ? input.url : String(input);
  const method = (init.method || (input instanceof Request ? input.method : 'GET')).toUpperCase();
  const accept = new Headers(init.headers || (input instanceof Request ? input.headers : undefined)).get('accept') || '';
  // The GET that opens the server's event stream stays open: the run's
  // deadline bounds it, not the per-request timeout.
  const stream = method === 'GET' && accept.includes('text/event-stream');
  const signals = [init.signal].filter(Boolean);
  if (!stream) signals.push(AbortSignal.timeout(REQUEST_TIMEOUT_MS));
  const entry = { method, url: shown(url) };
  if (method === 'POST' && init.body instanceof URLSearchParams) {
    entry.grant_type = init.body.get('grant_type') || undefined;
    entry.resource = init.body.get('resource') || undefined;
  }
  const res = await fetch(input, { ...init, signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0] });
  entry.status = res.status;
  seen.push(entry);
  return res;
}

// --- the person's browser

// cookies by host, as a browser keeps them (mailcal may bind the sign-in to
// the browser that started it).
const jar = new Map();
function keepCookies(url, res) {
  const set = res.headers.getSetCookie?.() || [];
  if (!set.length) return;
  const host = new URL(url).host;
  const cookies = jar.get(host) || new Map();
  for (const line of set) {
    const [pair] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq > 0) cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
  jar.set(host, cookies);
}
function cookieHeader(url) {
  const cookies = jar.get(new URL(url).host);
  return cookies ? [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') : undefined;
}

function decodeEntities(s) {
  return s
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

const hops = []; // {url, status}
let choicePage = null; // the providers the consent page offered

// browse follows the sign-in from url to the client's redirect_uri and
// returns that URL (with code, state, iss), without fetching it. mailcal's
// consent page (a form: hidden fields, one button per provider) is answered
// as a person would, with the button of the wanted provider.
async function browse(start) {
  let url = new URL(start);
  let post = null; // the form to submit to url, if any
  for (let i = 0; i < 12; i++) {
    if (shown(url) === shown(redirectUri)) return url;
    const headers = { Accept: 'text/html' };
    const cookie = cookieHeader(url);
    if (cookie) headers.Cookie = cookie;
    const init = { redirect: 'manual', headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) };
    if (post) {
      init.method = 'POST';
      init.body = post;
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      post = null;
    }
    const res = await fetch(url, init);
    keepCookies(url, res);
    hops.push({ url: shown(url), status: res.status, method: init.method || 'GET' });
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel();
      const loc = res.headers.get('location');
      if (!loc) throw new Error(`${shown(url)} answered ${res.status} without a Location`);
      url = new URL(loc, url);
      continue;
    }
    const body = await res.text();
    const form = body.match(/<form method="post" action="([^"]+)">/i);
    if (res.status === 200 && form && !choicePage) {
      // mailcal's consent page: which app asks, and where the mailbox is.
      const fields = new URLSearchParams();
      for (const m of body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/gi)) {
        fields.set(decodeEntities(m[1]), decodeEntities(m[2]));
      }
      choicePage = [...body.matchAll(/<button class="p" type="submit" name="provider" value="([^"]+)">/gi)].map((m) => decodeEntities(m[1]));
      if (!choicePage.includes(opts.provider)) {
        throw new Error(`the consent page at ${shown(url)} offers ${choicePage.join(', ')}, not ${opts.provider}`);
      }
      fields.set('provider', opts.provider);
      post = fields.toString();
      url = new URL(decodeEntities(form[1]), url);
      continue;
    }
    const text = body.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 400);
    throw new Error(`${shown(url)} answered ${res.status}: ${text}`);
  }
  throw new Error(`more than 12 hops from ${shown(start)}`);
}

// --- the OAuthClientProvider, in memory

class MemoryProvider {
  constructor() {
    this.info = undefined;
    this.saved = undefined;
    this.verifier = undefined;
    this.expectedState = undefined;
    this.authorizationUrl = undefined;
    this.code = undefined;
    this.iss = undefined;
    this.spoil = false; // hand out a spoilt access token until the next save
    this.saves = 0;
    this.refreshTokens = [];
    if (opts.mode === 'cimd') this.clientMetadataUrl = opts['client-metadata-url'];
  }
  get redirectUrl() { return redirectUri; }
  get clientMetadata() {
    return {
      client_name: 'mailcal e2e (TypeScript SDK)',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() {
    this.expectedState = randomBytes(16).toString('base64url');
    return this.expectedState;
  }
  clientInformation() { return this.info; }
  saveClientInformation(info) { this.info = info; }
  tokens() {
    if (this.spoil && this.saved) {
      return { ...this.saved, access_token: 'mca_' + 'A'.repeat(43) };
    }
    return this.saved;
  }
  saveTokens(tokens) {
    this.saved = tokens;
    this.saves++;
    this.spoil = false;
    if (tokens.refresh_token) this.refreshTokens.push(tokens.refresh_token);
  }
  saveCodeVerifier(v) { this.verifier = v; }
  codeVerifier() {
    if (!this.verifier) throw new Error('no code verifier saved');
    return this.verifier;
  }
  async redirectToAuthorization(authorizationUrl) {
    const u = new URL(authorizationUrl);
    if (opts['login-hint']) u.searchParams.set('login_hint', opts['login-hint']);
    if (opts['provider-param'] && opts.provider) u.searchParams.set('provider', opts.provider);
    this.authorizationUrl = u;
    const back = await browse(u);
    const q = back.searchParams;
    if (q.get('error')) throw new Error(`the sign-in came back with error ${q.get('error')}: ${q.get('error_description') || ''}`);
    if (!q.get('code')) throw new Error('the sign-in came back without a code');
    if (q.get('state') !== this.expectedState) throw new Error('the sign-in came back with another state than the one sent');
    this.code = q.get('code');
    this.iss = q.get('iss');
  }
}

// --- the run

function structured(result, what) {
  if (result.isError) throw new Error(`${what} answered a tool error: ${JSON.stringify(result.content).slice(0, 500)}`);
  if (!result.structuredContent) throw new Error(`${what} answered no structured content`);
  return result.structuredContent;
}

async function main() {
  const provider = new MemoryProvider();
  const transportOpts = { authProvider: provider, fetch: recordingFetch };
  const newClient = () => new Client({ name: 'mailcal-e2e-oauth', version: '1.0.0' });

  // The first connect meets the 401 and ends in the browser.
  const first = new StreamableHTTPClientTransport(serverUrl, transportOpts);
  let firstError;
  try {
    await newClient().connect(first);
  } catch (e) {
    firstError = e;
  }
  if (!(firstError instanceof UnauthorizedError)) {
    throw new Error(`the first connect should have needed authorization, got ${firstError ? firstError.message : 'a connection'}`);
  }
  if (!provider.code) throw new Error('the SDK never sent the person to authorize');
  await first.finishAuth(provider.code);
  await first.close();
  const tokensAfterCode = provider.saves;

  const transport = new StreamableHTTPClientTransport(serverUrl, transportOpts);
  const client = newClient();
  await client.connect(transport);
  const tools = (await client.listTools()).tools.map((t) => t.name);
  const accounts = structured(await client.callTool({ name: 'list_accounts', arguments: {} }), 'list_accounts');

  // Spoil the access token: the next request is answered 401, and the SDK
  // refreshes with the refresh token and sends it again.
  const accessBefore = provider.saved.access_token;
  provider.spoil = true;
  const accountsAfter = structured(await client.callTool({ name: 'list_accounts', arguments: {} }), 'list_accounts after the refresh');
  const refreshed = seen.some((r) => r.grant_type === 'refresh_token' && r.status === 200);
  const result = {
    server: shown(serverUrl),
    mode: opts.mode,
    client_id: provider.info?.client_id,
    authorize: {
      url: shown(provider.authorizationUrl),
      response_type: provider.authorizationUrl.searchParams.get('response_type'),
      code_challenge_method: provider.authorizationUrl.searchParams.get('code_challenge_method'),
      resource: provider.authorizationUrl.searchParams.get('resource'),
      scope: provider.authorizationUrl.searchParams.get('scope'),
      has_state: !!provider.authorizationUrl.searchParams.get('state'),
    },
    iss: provider.iss,
    choice_page: choicePage,
    hops,
    requests: seen,
    token_saves_after_code: tokensAfterCode,
    refreshed,
    access_token_changed: provider.saved.access_token !== accessBefore,
    refresh_token_rotated: provider.refreshTokens.length >= 2 &&
      provider.refreshTokens.at(-1) !== provider.refreshTokens.at(-2),
    token_type: provider.saved.token_type,
    granted_scope: provider.saved.scope,
    tools,
    list_accounts: accounts,
    list_accounts_after_refresh: accountsAfter,
  };
  await client.close();
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().then(
  () => process.exit(0),
  (e) => fail(e && e.stack ? e.stack.split('\n').slice(0, 4).join(' | ') : String(e)),
);
