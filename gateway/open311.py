"""The gateway's own refusals (rate limit, bad credentials, an unreachable intake) on Open311 paths, in
the GeoReport v2 error shape — ``[{code, description}]`` as JSON, or ``<errors>`` XML for ``.xml`` paths —
since an Open311 client parses that, not problem+json."""

from __future__ import annotations

from xml.etree.ElementTree import Element, SubElement, tostring

from fastapi.responses import JSONResponse, Response

from services.common.errors import Problem

_DESCRIPTIONS = {
    429: "请求过于频繁，请稍后再试",
    401: "请先登录或签名",
    403: "无权访问",
    502: "受理服务暂时无法连接，请稍后再试",
    503: "受理服务繁忙，请稍后再试",
    504: "受理服务响应超时，请稍后再试",
}


def open311_error(problem: Problem, path: str) -> Response:
    description = _DESCRIPTIONS.get(problem.status, problem.detail)
    if problem.status == 429 and problem.headers and "Retry-After" in problem.headers:
        description += f"（{problem.headers['Retry-After']} 秒后）"
    headers = dict(problem.headers or {})
    if path.endswith(".xml"):
        top = Element("errors")
        error = SubElement(top, "error")
        SubElement(error, "code").text = str(problem.status)
        SubElement(error, "description").text = description
        body = b'<?xml version="1.0" encoding="utf-8"?>' + tostring(top, encoding="unicode").encode()
        return Response(body, status_code=problem.status, media_type="text/xml; charset=utf-8", headers=headers)
    return JSONResponse([{"code": problem.status, "description": description}], status_code=problem.status,
                        headers=headers)
