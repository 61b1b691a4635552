"""Sign-in for the staff console: the gateway as a backend-for-frontend (OIDC Authorization Code + PKCE).

The browser never holds a token. It holds ``zf_session``, an opaque random id (HttpOnly, SameSite=Lax,
Secure per CONSOLE_COOKIE_SECURE), and the gateway keeps the session itself in Redis (REDIS_URL; in
memory on a single development replica without it). A request to ``/api/v1/**`` with that cookie and no
Authorization header is the session's principal, exactly as a staff bearer token would be; every
state-changing one must also carry ``X-CSRF-Token`` (the session's token, from ``GET /console/session``),
since a cookie goes along with any cross-site form post a browser sends.

Routes (the console UI relies on them):

- ``GET /console/login?next=/console/…``: 302 to the provider with state, nonce and PKCE S256;
- ``GET /console/callback``: code exchange, id_token verified, session created, 302 to ``next``;
- ``GET /console/session``: who is signed in, with the roles' Chinese labels and the CSRF token;
- ``POST /console/logout``: session deleted; answers the provider's end-session URL.

A session ends 30 minutes after its last request (CONSOLE_SESSION_IDLE_SECONDS) and 8 hours after sign-in
(CONSOLE_SESSION_MAX_SECONDS). While it lives, the refresh token is used every OIDC_REFRESH_SECONDS to
re-read the roles and unit, so a user disabled or re-assigned at the provider loses access within minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import logging
import re
import secrets
import time
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.responses import Response

from services.common.auth import IDENTITY_HEADER, Principal
from services.common.errors import Problem
from services.common.scope import check_role_combination

from .console_store import MemoryStore, RedisStore
from .oidc import OidcProvider, ProviderError, identity_from_claims
from .settings import GatewaySettings

log = logging.getLogger(__name__)

SESSION_COOKIE = "zf_session"
LOGIN_COOKIE = "zf_login"  # binds a login's state to the browser that started it (no login CSRF)
CSRF_HEADER = "x-csrf-token"
CONSOLE_COOKIES = (SESSION_COOKIE, LOGIN_COOKIE)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOGIN_TTL_SECONDS = 600

ROLE_LABELS: dict[str, str] = {
    "triage_officer": "线索分办员",
    "investigator": "纪检监察调查员",
    "org_officer": "组织部门经办人",
    "unit_handler": "事权单位经办人",
    "evaluation_admin": "督查考评办",
    "auditor": "领导查阅（审计）",
    "admin": "系统管理员",
}

# ``next``: a path under /console/, optionally with a query and fragment; nothing a browser could read as
# another origin (``//host``, ``/\\host``, a scheme), no dot segments, no control characters.
_NEXT = re.compile(r"^/console(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?(\?[^\s#\\]*)?(#[^\s\\]*)?$")


def safe_next(value: str | None) -> str:
    if not value:
        return "/console/"
    parts = urlsplit(value)
    segments = parts.path.split("/")
    if (len(value) > 2000 or not _NEXT.match(value) or parts.scheme or parts.netloc or "//" in parts.path
            or any(s in (".", "..") or s.lower() in ("%2e", "%2e%2e", ".%2e", "%2e.") for s in segments)):
        raise Problem(400, "登录后的跳转地址（next）必须是本站 /console/ 下的相对路径。", slug="next-invalid",
                      title="跳转地址无效")
    return value if parts.path != "/console" else "/console/" + value[len("/console"):]


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


_SESSION_KEY = "zuofeng:console:session:"
_LOGIN_KEY = "zuofeng:console:login:"


class ConsoleAuth:
    def __init__(self, settings: GatewaySettings, redis_client=None) -> None:
        self.settings = settings
        self.provider = OidcProvider(settings)
        self.store = RedisStore(redis_client) if redis_client is not None else MemoryStore()

    async def aclose(self) -> None:
        await self.provider.aclose()
        await self.store.aclose()

    # -- URLs ---------------------------------------------------------------------------------------------

    def public_base(self, request: Request) -> str:
        """CONSOLE_PUBLIC_URL when set (behind an ingress); else the address the browser used."""
        if self.settings.console_public_url:
            return self.settings.console_public_url.rstrip("/")
        return f"{request.url.scheme}://{request.url.netloc}"

    def redirect_uri(self, request: Request) -> str:
        return self.public_base(request) + "/console/callback"

    def _cookie(self, response: Response, name: str, value: str, *, max_age: int, path: str) -> None:
        response.set_cookie(name, value, max_age=max_age, path=path, httponly=True, samesite="lax",
                            secure=self.settings.console_cookie_secure)

    def _clear(self, response: Response, name: str, path: str) -> None:
        response.delete_cookie(name, path=path, httponly=True, samesite="lax",
                               secure=self.settings.console_cookie_secure)

    # -- Sign-in ------------------------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        target = safe_next(request.query_params.get("next"))
        app = request.app.state
        await app.rate_limits.hit("console-login", app.authenticator.client_address(request) or "unknown")
        state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64)
        # One binding per browser, reused by a second tab signing in at the same time.
        binding = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
        redirect_uri = self.redirect_uri(request)
        url = await self.provider.authorization_url(redirect_uri=redirect_uri, state=state, nonce=nonce,
                                                    verifier=verifier)
        record = {"nonce": nonce, "verifier": verifier, "next": target, "binding": _digest(binding),
                  "redirect_uri": redirect_uri}
        await self.store.put(_LOGIN_KEY + _digest(state), json.dumps(record).encode(), LOGIN_TTL_SECONDS)
        response = RedirectResponse(url, status_code=302, headers={"cache-control": "no-store"})
        self._cookie(response, LOGIN_COOKIE, binding, max_age=LOGIN_TTL_SECONDS, path="/console/callback")
        return response

    async def callback(self, request: Request) -> Response:
        params = request.query_params
        if error := params.get("error"):
            description = params.get("error_description") or error
            raise Problem(401, f"统一身份认证未完成登录：{description[:200]}。请重新登录。", slug="login-failed",
                          title="登录未完成")
        # RFC 9207: a provider that names itself must be ours (no mix-up with another provider's code).
        if (iss := params.get("iss")) is not None and iss.rstrip("/") != self.provider.issuer:
            raise Problem(400, "登录回调来自未配置的身份认证服务。", slug="login-invalid", title="登录请求无效")
        state, code = params.get("state"), params.get("code")
        if not state or not code:
            raise Problem(400, "登录回调缺少 code 或 state 参数。", slug="login-invalid", title="登录请求无效")
        raw = await self.store.take(_LOGIN_KEY + _digest(state))
        if raw is None:
            raise Problem(400, "登录请求已过期或已使用过，请重新登录。", slug="login-expired", title="登录请求已过期")
        record = json.loads(raw)
        binding = request.cookies.get(LOGIN_COOKIE, "")
        if not hmac.compare_digest(record["binding"], _digest(binding)):
            raise Problem(400, "此登录请求不是由本浏览器发起的，请重新登录。", slug="login-invalid",
                          title="登录请求无效")
        try:
            tokens = await self.provider.exchange(code=code, redirect_uri=record["redirect_uri"],
                                                  verifier=record["verifier"])
        except ProviderError as exc:
            raise Problem(401, "统一身份认证拒绝了本次登录（授权码无效或已过期），请重新登录。",
                          slug="login-failed", title="登录未完成") from exc
        identity = await self._identity(tokens, nonce=record["nonce"])
        self._admissible(identity)
        now = time.time()
        session = {
            **identity,
            "unit_name": None,
            "csrf": secrets.token_urlsafe(32),
            "id_token": tokens.get("id_token"),
            "refresh_token": tokens.get("refresh_token"),
            "created": now,
            "refresh_at": now + self._refresh_after(tokens),
        }
        # A fresh id on every sign-in (no session fixation); the browser's previous session ends.
        if old := request.cookies.get(SESSION_COOKIE):
            await self.store.delete(_SESSION_KEY + _digest(old))
        sid = secrets.token_urlsafe(32)
        await self._save(sid, session)
        response = RedirectResponse(record["next"], status_code=302, headers={"cache-control": "no-store"})
        self._cookie(response, SESSION_COOKIE, sid, max_age=self.settings.console_session_max_seconds, path="/")
        self._clear(response, LOGIN_COOKIE, "/console/callback")
        log.info("console sign-in", extra={"subject": identity["sub"], "roles": identity["roles"]})
        return response

    async def _identity(self, tokens: dict, *, nonce: str | None) -> dict:
        id_token = tokens.get("id_token")
        if not id_token:
            raise Problem(502, "身份认证服务没有返回身份令牌（id_token）；请检查客户端的 openid 范围。",
                          slug="idp-misconfigured")
        claims = await self.provider.verify_id_token(id_token, nonce=nonce)
        identity = identity_from_claims(claims, self.settings)
        if not identity["roles"] and tokens.get("access_token"):
            # Some providers put roles only in the userinfo answer, not in the id_token.
            info = await self.provider.userinfo(tokens["access_token"])
            if info.get("sub") == claims["sub"]:
                identity = identity_from_claims({**info, **claims}, self.settings)
        return identity

    @staticmethod
    def _admissible(identity: dict) -> None:
        if not identity["roles"]:
            raise Problem(403, "您的账号在统一身份认证中没有本系统的任何角色，请联系管理员开通。",
                          slug="forbidden-role", title="没有权限")
        # The same rules as for a bearer token: unit side and commission side never together.
        check_role_combination(_principal(identity, None))

    def _refresh_after(self, tokens: dict) -> float:
        expires_in = tokens.get("expires_in")
        every = float(self.settings.oidc_refresh_seconds)
        if isinstance(expires_in, int | float) and expires_in > 0:
            every = min(every, max(30.0, float(expires_in) - 30))
        return every

    async def _save(self, sid: str, session: dict) -> None:
        remaining = session["created"] + self.settings.console_session_max_seconds - time.time()
        ttl = int(min(self.settings.console_session_idle_seconds, remaining))
        await self.store.put(_SESSION_KEY + _digest(sid), json.dumps(session).encode(), ttl)

    # -- Sessions -----------------------------------------------------------------------------------------

    async def session(self, request: Request) -> tuple[str, dict] | None:
        """The cookie's live session (idle expiry pushed on, refreshed at the provider when due); None
        without a cookie; 401 for a cookie that names no live session."""
        sid = request.cookies.get(SESSION_COOKIE)
        if not sid:
            return None
        key = _SESSION_KEY + _digest(sid)
        raw = await self.store.touch(key, self.settings.console_session_idle_seconds)
        if raw is None:
            raise _expired()
        session = json.loads(raw)
        now = time.time()
        if now >= session["created"] + self.settings.console_session_max_seconds:
            await self.store.delete(key)
            raise _expired()
        if now >= session["refresh_at"]:
            session = await self._refresh(sid, key, session)
        return sid, session

    async def _refresh(self, sid: str, key: str, session: dict) -> dict:
        if not session.get("refresh_token"):
            await self.store.delete(key)
            raise _expired()
        try:
            tokens = await self.provider.refresh(session["refresh_token"])
            identity = await self._identity(tokens, nonce=None) if tokens.get("id_token") else None
        except ProviderError as exc:
            # Ended or disabled at the provider: so here too.
            await self.store.delete(key)
            raise _expired() from exc
        except Problem as problem:
            if problem.status != 503:
                await self.store.delete(key)
                raise _expired() from problem
            # The provider unreachable: keep the session as it is and try again in a minute, rather than
            # sign every user out during the provider's outage (the 8-hour limit still holds).
            log.warning("console session refresh failed: identity provider unreachable")
            session["refresh_at"] = time.time() + 60
            await self._save(sid, session)
            return session
        if identity is not None:
            if identity["sub"] != session["sub"]:
                await self.store.delete(key)
                raise _expired()
            try:
                self._admissible(identity)
            except Problem:
                await self.store.delete(key)
                raise
            if identity["unit_id"] != session.get("unit_id"):
                session["unit_name"] = None
            session.update(identity)
            session["id_token"] = tokens.get("id_token") or session["id_token"]
        session["refresh_token"] = tokens.get("refresh_token") or session["refresh_token"]
        session["refresh_at"] = time.time() + self._refresh_after(tokens)
        await self._save(sid, session)
        return session

    async def cookie_principal(self, request: Request, client: str | None) -> Principal | None:
        """The principal of an ``/api/v1`` request that came with a session cookie (None: no cookie)."""
        found = await self.session(request)
        if found is None:
            return None
        _, session = found
        if request.method in UNSAFE_METHODS:
            check_csrf(request, session)
        return _principal(session, client)

    async def describe(self, request: Request) -> JSONResponse:
        found = await self.session(request)
        if found is None:
            raise Problem(401, "尚未登录，请先登录工作台。", slug="unauthenticated", title="尚未登录")
        sid, session = found
        if session.get("unit_id") and not session.get("unit_name"):
            session["unit_name"] = await self._unit_name(request, session)
            if session["unit_name"]:
                await self._save(sid, session)
        roles = session["roles"]
        return JSONResponse(
            {
                "subject": session["sub"],
                "name": session["name"],
                "username": session["username"],
                "roles": roles,
                "role_labels": {r: ROLE_LABELS[r] for r in roles if r in ROLE_LABELS},
                "unit_id": session.get("unit_id"),
                "unit_name": session.get("unit_name"),
                "csrf_token": session["csrf"],
            },
            headers={"cache-control": "no-store"},
        )

    async def _unit_name(self, request: Request, session: dict) -> str | None:
        """The unit's name from triage's directory (单位名录), asked as the user; None if unknown or down."""
        state = request.app.state
        base = state.settings.upstreams.get("triage")
        if base is None:
            return None
        principal = _principal(session, None)
        try:
            response = await state.http.get(f"{base}/api/v1/triage/units/{session['unit_id']}",
                                            headers={IDENTITY_HEADER: state.tokens.token_for(principal)},
                                            timeout=3.0)
        except Exception:  # noqa: BLE001 — the name is a courtesy; the session works without it
            return None
        if response.status_code != 200:
            return None
        name = response.json().get("name")
        return name if isinstance(name, str) else None

    async def logout(self, request: Request) -> JSONResponse:
        try:
            found = await self.session(request)
        except Problem:
            found = None  # an expired session: nothing to end here, but the provider's may still live
        id_token = None
        if found is not None:
            sid, session = found
            check_csrf(request, session)
            id_token = session.get("id_token")
            await self.store.delete(_SESSION_KEY + _digest(sid))
        url = await self.provider.end_session_url(id_token=id_token,
                                                  post_logout_redirect_uri=self.public_base(request) + "/console/")
        response = JSONResponse({"logout_url": url}, headers={"cache-control": "no-store"})
        self._clear(response, SESSION_COOKIE, "/")
        return response


def _principal(session: dict, client: str | None) -> Principal:
    return Principal(kind="staff", subject=session["sub"], roles=frozenset(session["roles"]),
                     unit_id=session.get("unit_id"), client=client)


def _expired() -> Problem:
    return Problem(401, "登录已过期或无效，请重新登录。", slug="session-expired", title="需要重新登录")


def check_csrf(request: Request, session: dict) -> None:
    given = request.headers.get(CSRF_HEADER, "")
    if not given or not hmac.compare_digest(given.encode(), session["csrf"].encode()):
        raise Problem(403, "缺少或无效的 CSRF 令牌（请求头 X-CSRF-Token）。请刷新页面后重试。",
                      slug="csrf-invalid", title="请求被拒绝")


def without_console_cookies(cookie_header: str) -> str:
    """The Cookie header minus the console's own cookies: the session id never reaches a service."""
    kept = [part for part in cookie_header.split(";")
            if part.strip().split("=", 1)[0].strip() not in CONSOLE_COOKIES]
    return ";".join(kept).strip()


router = APIRouter()


def _console(request: Request) -> ConsoleAuth:
    console = request.app.state.console
    if console is None:
        raise Problem(404, "本网关未配置工作台登录（OIDC_ISSUER 未设置）。", slug="console-sign-in-off",
                      title="未配置登录")
    return console


_SIGN_IN_FAILED = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto; line-height: 1.6">
<h1>{title}</h1><p>{detail}</p><p><a href="/console/login">重新登录</a></p>
</body></html>
"""


async def _navigation(request: Request, handler) -> Response:
    """Login and callback are top-level navigations: a person reads their refusal, so a browser gets it
    as a Chinese page with a way back; any other client gets the usual problem+json."""
    try:
        return await handler(request)
    except Problem as problem:
        if "text/html" not in request.headers.get("accept", ""):
            raise
        title = problem.title if not problem.title.isascii() else "无法登录"  # the kernel's titles are English
        page = _SIGN_IN_FAILED.format(title=html.escape(title), detail=html.escape(problem.detail))
        return HTMLResponse(page, status_code=problem.status, headers={"cache-control": "no-store"})


@router.get("/console/login", include_in_schema=False)
async def login(request: Request) -> Response:
    return await _navigation(request, _console(request).login)


@router.get("/console/callback", include_in_schema=False)
async def callback(request: Request) -> Response:
    return await _navigation(request, _console(request).callback)


@router.get("/console/session", include_in_schema=False)
async def session(request: Request) -> Response:
    return await _console(request).describe(request)


@router.post("/console/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    return await _console(request).logout(request)

