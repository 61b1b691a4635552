"""The built staff console (console/dist, CONSOLE_DIST) under /console/, as a single-page app.

Hashed assets (``/console/assets/…``, Vite's output) are cached for a year; everything else, index.html
above all, is revalidated so a new build shows at the next load. A path that is no file is the app's own
route and answers index.html, except under ``assets/`` (a missing script must be a 404, not HTML). The
Content-Security-Policy admits only the gateway itself: no CDN, no inline script.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from starlette.responses import Response

from services.common.errors import Problem

# Element Plus sets inline style attributes, hence 'unsafe-inline' for styles only; ECharts draws on canvas.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
       "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
_IMMUTABLE = "public, max-age=31536000, immutable"
_REVALIDATE = "no-cache"
_SIGN_IN = frozenset({"login", "callback", "session", "logout"})  # gateway/console_auth.py, never the app

_NOT_BUILT = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>工作台尚未构建</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto; line-height: 1.6">
<h1>工作台尚未构建</h1>
<p>网关找不到工作台的页面文件（{dist}）。请在代码目录中运行 <code>make console</code> 构建工作台，
然后刷新本页。</p>
<p>接口文档仍可在 <a href="/docs">/docs</a> 查看。</p>
</body></html>
"""

router = APIRouter()


def _headers(cache: str) -> dict[str, str]:
    return {"cache-control": cache, "content-security-policy": CSP}


def _file(dist: Path, path: str) -> Path | None:
    """The file under ``dist`` for ``path``, or None; never anything outside ``dist``."""
    if not path or "\x00" in path:
        return None
    candidate = (dist / path).resolve()
    if not candidate.is_relative_to(dist) or not candidate.is_file():
        return None
    return candidate


def console_page(request: Request) -> Response:
    # Sync: Starlette runs it in its thread pool, so the file checks never block the event loop.
    dist = Path(request.app.state.settings.console_dist).resolve()
    index = dist / "index.html"
    if not index.is_file():
        return HTMLResponse(_NOT_BUILT.format(dist=dist), status_code=503, headers=_headers("no-store"))
    path = request.path_params.get("path", "")
    if path.rstrip("/") in _SIGN_IN:
        raise Problem(405, "此地址只接受工作台登录流程的请求。", slug="method-not-allowed")
    found = _file(dist, path)
    if found is not None:
        cache = _IMMUTABLE if path.startswith("assets/") else _REVALIDATE
        return FileResponse(found, headers=_headers(cache))
    if path.startswith("assets/"):
        raise Problem(404, "没有这个工作台文件。", slug="not-found")
    return FileResponse(index, media_type="text/html; charset=utf-8", headers=_headers(_REVALIDATE))


async def console_root(request: Request) -> Response:
    return RedirectResponse("/console/", status_code=308)


# After the sign-in routes (console_auth.router), which take /console/login|callback|session|logout first.
router.add_route("/console", console_root, methods=["GET", "HEAD"], include_in_schema=False)
router.add_route("/console/{path:path}", console_page, methods=["GET", "HEAD"], include_in_schema=False)
