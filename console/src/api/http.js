// One fetch wrapper for every service module: same-origin cookie, the CSRF header on every state-changing
// call, problem+json turned into a Chinese message, and a 401 sending the browser to sign in again.
import { ElMessage } from 'element-plus'
import { session } from './session'

const STATUS_TEXT = {
  400: '请求有误', 401: '登录已失效', 403: '无权限', 404: '未找到', 409: '状态冲突',
  413: '文件过大', 415: '文件类型不支持', 422: '填写内容有误', 429: '操作过于频繁', 503: '服务暂不可用',
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problemText(status, problem))
    this.status = status
    this.problem = problem
  }
}

export function problemText(status, problem) {
  const head = STATUS_TEXT[status] || (status >= 500 ? '服务出错' : '操作失败')
  let detail = ''
  if (problem && typeof problem === 'object') {
    if (Array.isArray(problem.errors) && problem.errors.length) {
      detail = problem.errors.map((e) => e.detail || e.msg || '').filter(Boolean).join('；')
    }
    detail = detail || problem.detail || problem.title || ''
    if (Array.isArray(detail)) detail = detail.map((e) => e.msg).join('；')
  }
  return detail ? `${head}：${detail}` : head
}

export function loginUrl() {
  const next = window.location.pathname + window.location.search
  return `/console/login?next=${encodeURIComponent(next)}`
}

export async function request(method, url, { json, form, query, raw, quiet } = {}) {
  const headers = { Accept: 'application/json, application/problem+json' }
  let body
  if (json !== undefined) { headers['Content-Type'] = 'application/json'; body = JSON.stringify(json) }
  if (form !== undefined) body = form
  if (method !== 'GET' && method !== 'HEAD' && session.csrf_token) headers['X-CSRF-Token'] = session.csrf_token
  if (query) {
    const q = new URLSearchParams()
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.append(k, v)
    const s = q.toString()
    if (s) url += (url.includes('?') ? '&' : '?') + s
  }
  let res
  try {
    res = await fetch(url, { method, headers, body, credentials: 'same-origin' })
  } catch (e) {
    const err = new ApiError(0, { detail: '网络连接失败，请稍后重试' })
    if (!quiet) ElMessage.error(err.message)
    throw err
  }
  if (res.status === 401 && !quiet) { window.location.assign(loginUrl()); throw new ApiError(401, null) }
  if (!res.ok) {
    let problem = null
    try { problem = await res.json() } catch { /* not JSON */ }
    const err = new ApiError(res.status, problem)
    if (!quiet) ElMessage.error({ message: err.message, duration: 6000 })
    throw err
  }
  if (raw) return res
  if (res.status === 204) return null
  const type = res.headers.get('content-type') || ''
  return type.includes('json') ? res.json() : res.text()
}

export const get = (url, query, opts = {}) => request('GET', url, { query, ...opts })
export const post = (url, json, opts = {}) => request('POST', url, { json, ...opts })
export const patch = (url, json, opts = {}) => request('PATCH', url, { json, ...opts })
export const put = (url, json, opts = {}) => request('PUT', url, { json, ...opts })
export const postForm = (url, form, opts = {}) => request('POST', url, { form, ...opts })

// An export link is shown only when its endpoint answers (the exports land independently of the pages).
const probes = new Map()
export function available(url) {
  if (!probes.has(url)) {
    probes.set(url, fetch(url, { method: 'HEAD', credentials: 'same-origin' })
      .then((r) => r.ok).catch(() => false))
  }
  return probes.get(url)
}
