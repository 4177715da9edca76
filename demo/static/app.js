// clerk-auth demo front end: Clerk's "Cross-Origin Requests" code, run by a real browser
// against three APIs on other origins. Everything it needs is in /config.json (the same
// case table the Python demo checks); window.demo exposes it for the browser test.

const config = await (await fetch("/config.json")).json();
const API_NAMES = { flask: "Flask", starlette: "Starlette", django: "Django" };

// getToken(): in a Clerk app, `const { getToken } = useAuth()`. Here it asks the mock
// Clerk instance's token endpoint over HTTP, like Clerk's Frontend API; the browser
// sends this page's Origin, and the token carries it as azp. `params` let a case ask
// for an odd token (expired, minted for another origin).
function tokenGetter(params) {
  return async function getToken() {
    const url = new URL(config.token_url);
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, String(value));
    const res = await fetch(url, { method: "POST" });
    if (!res.ok) throw new Error(`the token endpoint answered ${res.status}`);
    return (await res.json()).jwt;
  };
}

// A forger: a real token with its payload's sub changed (the signature no longer holds).
function forging(getToken) {
  const b64 = (s) => s.replace(/-/g, "+").replace(/_/g, "/");
  const b64url = (s) => s.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return async function getForgedToken() {
    const [header, payload, signature] = (await getToken()).split(".");
    const claims = JSON.parse(atob(b64(payload)));
    claims.sub = "user_admin";
    return `${header}.${b64url(btoa(JSON.stringify(claims)))}.${signature}`;
  };
}

// The seed, as in Clerk's guide (useFetch), with one change: the status is kept next to
// the JSON body, so the page can show a 401 as a 401.
function useFetch(getToken) {
  const authenticatedFetch = async (...args) => {
    return fetch(...args, {
      headers: { Authorization: `Bearer ${await getToken()}` }
    }).then(async res => ({ status: res.status, body: await res.json() }));
  };
  return authenticatedFetch;
}

async function seen(since) {
  return (await fetch(`/requests.json?since=${since}`)).json();
}

async function lastSeq() {
  const entries = await seen(0);
  return entries.length ? entries[entries.length - 1].seq : 0;
}

// One case against one API. A CORS refusal makes fetch() throw ("Failed to fetch"):
// the page then cannot even see the status, which is why the APIs send CORS headers
// on their 401s too.
async function runCase(c, api) {
  const url = config.apis[api] + (c.kind === "preflight" ? config.path : c.path);
  try {
    if (c.kind === "preflight") {
      const before = await lastSeq();
      const answer = await useFetch(tokenGetter({ sub: config.user }))(url);
      const preflight = (await seen(before)).find(
        (e) => e.api === api && e.method === "OPTIONS" && e.request_method,
      );
      return { status: preflight ? preflight.status : 0, preflight: preflight || null, after: answer };
    }
    if (c.token === null) {
      const res = await fetch(url);
      return { status: res.status, body: await res.json() };
    }
    const getToken = c.forge ? forging(tokenGetter(c.token)) : tokenGetter(c.token);
    return await useFetch(getToken)(url);
  } catch (error) {
    return { status: 0, error: String(error) };
  }
}

// What clerk-js's useReverification() looks for in a 403: Clerk's reverification hint.
// It opens the "verify it's you" dialog for the level the route asked for, then
// retries the call with a fresh token. Here the page only reads the level.
function stepUpLevel(body) {
  const e = body && body.clerk_error;
  return e && e.type === "forbidden" && e.reason === "reverification-error"
    ? e.metadata.reverification
    : null;
}

function judge(c, api, r) {
  if (r.error) return { ok: false, shown: `blocked: ${r.error}` };
  if (c.kind === "preflight") {
    const p = r.preflight;
    const ok = !!p && p.status >= 200 && p.status < 300 && p.allow_origin === location.origin
      && /authorization/i.test(p.allow_headers || "") && r.after.status === 200;
    const shown = p ? `OPTIONS ${p.status}, Authorization ${ok ? "allowed" : "not allowed"}; then GET ${r.after.status}`
      : "no preflight seen";
    return { ok, shown };
  }
  if (r.status === 200) {
    const ok = c.status === 200 && r.body.user_id === config.user && r.body.framework === api;
    return { ok, shown: `200 ${r.body.user_id} (${r.body.framework})` };
  }
  const level = stepUpLevel(r.body);
  const reason = level === null ? r.body.reason : "reverification-error";
  const ok = r.status === c.status && reason === c.reason && level === c.reverification;
  const asks = level === null ? "" : ` (${typeof level === "string" ? level : JSON.stringify(level)})`;
  return { ok, shown: `${r.status} ${reason}${asks}`, level };
}

const cases = config.cases.filter((c) => c.browser);
const apis = Object.keys(config.apis);
const tbody = document.querySelector("#results tbody");
const cells = {};

for (const c of cases) {
  const row = tbody.insertRow();
  const name = row.insertCell();
  name.append(c.title);
  const why = document.createElement("div");
  why.className = "why";
  why.textContent = c.why;
  name.append(why);
  row.insertCell().textContent = c.expected;
  for (const api of apis) {
    const cell = row.insertCell();
    cell.className = "result";
    cell.dataset.case = c.key;
    cell.dataset.api = api;
    cell.textContent = "–";
    cells[`${c.key}/${api}`] = cell;
  }
  const button = document.createElement("button");
  button.textContent = c.title;
  button.dataset.case = c.key;
  button.addEventListener("click", () => runCases([c]));
  document.getElementById("buttons").append(button);
}

async function runCases(selected) {
  const buttons = document.querySelectorAll("button");
  buttons.forEach((b) => { b.disabled = true; });
  const results = [];
  try {
    for (const c of selected) {
      for (const api of apis) {
        const cell = cells[`${c.key}/${api}`];
        cell.textContent = "…";
        delete cell.dataset.ok;
        const raw = await runCase(c, api);
        const { ok, shown, level = null } = judge(c, api, raw);
        cell.textContent = shown;
        const mark = document.createElement("span");
        mark.className = "mark";
        mark.textContent = ok ? "✓" : "✗";
        cell.append(mark);
        cell.dataset.ok = String(ok);
        cell.dataset.status = String(raw.status);
        results.push({ case: c.key, api, ok, status: raw.status, shown, level, raw });
      }
    }
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
  const failed = results.filter((r) => !r.ok).length;
  document.getElementById("summary").textContent = failed
    ? `✗ ${failed} of ${results.length} answers were not as expected`
    : `✓ all ${results.length} answers as expected`;
  await showLog();
  return results;
}

async function showLog() {
  const body = document.querySelector("#log tbody");
  body.replaceChildren();
  for (const e of (await seen(0)).slice(-30).reverse()) {
    const row = body.insertRow();
    row.insertCell().textContent = String(e.seq);
    row.insertCell().textContent = API_NAMES[e.api] || e.api;
    const extra = e.request_method
      ? ` (preflight for ${e.request_method}, headers: ${e.request_headers})`
      : e.authorization ? " + Authorization" : "";
    row.insertCell().textContent = `${e.method} ${e.path} from ${e.origin}${extra}`;
    const allow = e.allow_origin ? `Access-Control-Allow-Origin: ${e.allow_origin}` : "no CORS headers";
    row.insertCell().textContent = `${e.status}, ${allow}`;
  }
}

document.getElementById("run-all").addEventListener("click", () => runCases(cases));
document.getElementById("origin").textContent = location.origin;
document.getElementById("clerk").textContent = `${config.clerk} (token endpoint ${config.token_url})`;
for (const api of apis) {
  const line = document.createElement("div");
  line.textContent = `${API_NAMES[api] || api}: ${config.apis[api]}${config.path}`;
  document.getElementById("apis").append(line);
}
if (location.origin !== config.origin) {
  const warning = document.getElementById("warning");
  warning.style.display = "block";
  warning.textContent = `Open ${config.origin}/ instead: the APIs allow that origin only.`;
}

window.demo = { config, runAll: () => runCases(cases), runCase, judge, stepUpLevel };
document.body.dataset.ready = "true";
