export const id = 702;
export const ids = [702];
export const modules = {

/***/ 6702:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

__webpack_require__.r(__webpack_exports__);
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   URGENT: () => (/* binding */ URGENT),
/* harmony export */   createOctokit: () => (/* binding */ createOctokit),
/* harmony export */   isRateLimitError: () => (/* binding */ isRateLimitError),
/* harmony export */   isRateLimited: () => (/* binding */ isRateLimited),
/* harmony export */   statusOf: () => (/* reexport safe */ _status_js__WEBPACK_IMPORTED_MODULE_1__.c)
/* harmony export */ });
/* harmony import */ var _octokit_core__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(1976);
/* harmony import */ var _octokit_plugin_paginate_rest__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(3779);
/* harmony import */ var _octokit_plugin_rest_endpoint_methods__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(9210);
/* harmony import */ var _octokit_plugin_retry__WEBPACK_IMPORTED_MODULE_5__ = __webpack_require__(9735);
/* harmony import */ var _octokit_plugin_throttling__WEBPACK_IMPORTED_MODULE_6__ = __webpack_require__(6856);
/* harmony import */ var undici__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(4371);
/* harmony import */ var _status_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(957);
// The one Octokit of the project: REST methods, pagination, retries of transient failures and GitHub's rate-limit
// rules (primary and secondary limits, spaced writes), for github.com and GHES alike, through https_proxy when set.
// Built from @octokit/core, not the action toolkit, so the CLI bundle can use it too. The action makes one instance
// and hands it to every API user (dispatch mode, `owner/*` listing, pull requests).







const TakoOctokit = _octokit_core__WEBPACK_IMPORTED_MODULE_2__/* .Octokit */ .E.plugin(_octokit_plugin_rest_endpoint_methods__WEBPACK_IMPORTED_MODULE_3__/* .restEndpointMethods */ ._, _octokit_plugin_paginate_rest__WEBPACK_IMPORTED_MODULE_4__/* .paginateRest */ .ud, _octokit_plugin_retry__WEBPACK_IMPORTED_MODULE_5__/* .retry */ .L, _octokit_plugin_throttling__WEBPACK_IMPORTED_MODULE_6__/* .throttling */ .A);
/** Options of one request (`request: {...}`): no retry of a failure (the retry plugin's own option), and no wait for
    a rate limit either, for a call that must go out now or not at all (a cancellation at a deadline). */
const URGENT = { retries: 0, urgent: true };
function createOctokit(opts) {
    const limit = opts.rateLimitRetries ?? 2;
    const onLimit = (kind) => (retryAfter, options, _octokit, retryCount) => {
        const retrying = !options.request?.urgent && retryCount < limit;
        opts.log?.(`GitHub ${kind} rate limit on ${options.method} ${options.url}: ${retrying ? `retrying in ${retryAfter}s` : 'giving up'}`);
        return retrying;
    };
    const base = opts.retryAfterBaseValue;
    return new TakoOctokit({
        auth: opts.token || undefined,
        baseUrl: (opts.baseUrl ?? 'https://api.github.com').replace(/\/+$/, ''),
        userAgent: 'tako-action',
        throttle: { onRateLimit: onLimit('primary'), onSecondaryRateLimit: onLimit('secondary'), ...(base === undefined ? {} : { retryAfterBaseValue: base }) },
        ...(base === undefined ? {} : { retry: { retryAfterBaseValue: base } }),
        request: proxyFetch()
    });
}
/** Node's fetch ignores https_proxy/no_proxy; undici's EnvHttpProxyAgent honours them as curl and git do. */
function proxyFetch() {
    const env = process.env;
    if (!(env.https_proxy || env.HTTPS_PROXY || env.http_proxy || env.HTTP_PROXY))
        return undefined;
    const dispatcher = new undici__WEBPACK_IMPORTED_MODULE_0__/* .EnvHttpProxyAgent */ .J2();
    return { fetch: ((url, init) => (0,undici__WEBPACK_IMPORTED_MODULE_0__/* .fetch */ .hd)(url, { ...init, dispatcher })) };
}
/** Whether an answer says "too many requests" rather than "not allowed": 429, or a 403 with the budget spent, a
    retry-after, or GitHub's words for a (secondary) rate limit. Such a 403 is no permission problem. */
function isRateLimited(status, headers, message) {
    if (status === 429)
        return true;
    if (status !== 403)
        return false;
    const header = (name) => headers?.[name];
    return String(header('x-ratelimit-remaining')) === '0' || header('retry-after') !== undefined || /\brate limit\b/i.test(message);
}
/** isRateLimited for a thrown Octokit error. */
function isRateLimitError(error) {
    const e = error;
    return typeof e?.status === 'number' && isRateLimited(e.status, e.response?.headers, String(e.message ?? ''));
}


/***/ })

};
