import { reactive } from 'vue'

// Who is signed in, as the gateway's BFF states it (GET /console/session); the cookie itself is HttpOnly.
export const session = reactive({ loaded: false, subject: '', name: '', username: '', roles: [],
  role_labels: {}, unit_id: null, unit_name: null, csrf_token: '' })

export async function loadSession() {
  if (session.loaded) return true
  const res = await fetch('/console/session', { credentials: 'same-origin', headers: { Accept: 'application/json' } })
  if (res.status === 401) return false
  if (!res.ok) throw new Error(`会话服务不可用（${res.status}）`)
  Object.assign(session, await res.json(), { loaded: true })
  return true
}

export function hasRole(roles) {
  if (!roles || roles.length === 0) return true
  return session.roles.includes('admin') || roles.some((r) => session.roles.includes(r))
}

// Fallback labels if the session does not carry them: a person never reads a role code.
const ROLE_LABELS = { triage_officer: '线索分办员', investigator: '案件承办人', org_officer: '组织部门承办人',
  unit_handler: '单位经办人', evaluation_admin: '督查考评办', auditor: '领导（审计）', admin: '系统管理员' }

export function roleNames() {
  return session.roles.map((r) => session.role_labels?.[r] || ROLE_LABELS[r] || '工作人员').join('、')
}

export async function logout() {
  const res = await fetch('/console/logout', { method: 'POST', credentials: 'same-origin',
    headers: { 'X-CSRF-Token': session.csrf_token, Accept: 'application/json' } })
  let target = '/console/login?next=/console/'
  if (res.ok) { const body = await res.json(); if (body.logout_url) target = body.logout_url }
  window.location.assign(target)
}
