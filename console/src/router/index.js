import { createRouter, createWebHistory } from 'vue-router'
import Layout from '../layout/Layout.vue'
import Forbidden from '../views/Forbidden.vue'
import { routes } from './routes'
import { loadSession, hasRole } from '../api/session'
import { loginUrl } from '../api/http'

export function homeFor() {
  const first = routes.find((r) => !r.hidden && hasRole(r.roles))
  return first ? { name: first.name } : { name: 'forbidden' }
}

export const router = createRouter({
  history: createWebHistory('/console/'),
  routes: [
    { path: '/', component: Layout, children: [
      // Home and unknown paths go to the role's first page, decided once the session is known.
      { path: '', name: 'home', component: Forbidden, meta: { home: true } },
      ...routes.map((r) => ({ ...r, meta: { title: r.title, roles: r.roles } })),
      { path: 'forbidden', name: 'forbidden', component: Forbidden, meta: { title: '无权访问' } },
      { path: ':rest(.*)*', component: Forbidden, meta: { home: true } },
    ] },
  ],
})

router.beforeEach(async (to) => {
  let ok
  try { ok = await loadSession() } catch { ok = false }
  if (!ok) { window.location.assign(loginUrl()); return false }
  if (to.meta.home) return homeFor()
  if (to.meta.roles && !hasRole(to.meta.roles)) return { name: 'forbidden' }
  document.title = `${to.meta.title || ''} - 作风监督工作台`
  return true
})
