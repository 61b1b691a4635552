// The route table: one entry per page. `roles` says who sees it in the menu and may open it (admin sees
// everything); `menu` groups it in the side menu. A new workflow gets a page by adding a view under
// src/views/ and one entry here.
export const TRIAGE = ['triage_officer']
export const UNIT = ['unit_handler']
export const CASES = ['investigator', 'org_officer']
export const EVAL = ['evaluation_admin']
export const LEAD = ['auditor']

export const routes = [
  { path: 'triage/queue', name: 'queue', title: '线索队列', menu: '线索分办', roles: TRIAGE,
    component: () => import('../views/triage/Queue.vue') },
  { path: 'triage/lanes/must', name: 'lane-must', title: '五必查', menu: '线索分办', roles: TRIAGE,
    component: () => import('../views/triage/Queue.vue'), props: { lane: 'must' } },
  { path: 'triage/lanes/enterprise', name: 'lane-enterprise', title: '涉企线索', menu: '线索分办', roles: TRIAGE,
    component: () => import('../views/triage/Queue.vue'), props: { lane: 'enterprise' } },
  { path: 'triage/daily', name: 'daily', title: '每日分办', menu: '线索分办', roles: TRIAGE,
    component: () => import('../views/triage/Daily.vue') },
  { path: 'triage/transfers', name: 'transfer-review', title: '转办审核', menu: '线索分办', roles: TRIAGE,
    component: () => import('../views/unit/Transfers.vue'), props: { reviewer: true } },

  { path: 'unit/inbox', name: 'inbox', title: '收件箱', menu: '单位办理', roles: UNIT,
    component: () => import('../views/unit/Inbox.vue') },
  { path: 'unit/transfers', name: 'transfers', title: '转办线索', menu: '单位办理', roles: UNIT,
    component: () => import('../views/unit/Transfers.vue') },
  { path: 'unit/rectifications', name: 'unit-rectifications', title: '整改事项', menu: '单位办理', roles: UNIT,
    component: () => import('../views/cases/Ledger.vue'), props: { unitView: true } },

  { path: 'cases', name: 'cases', title: '案件列表', menu: '案件办理', roles: CASES,
    component: () => import('../views/cases/CaseList.vue') },
  { path: 'cases/:id', name: 'case', title: '案件工作台', roles: CASES, hidden: true,
    component: () => import('../views/cases/Workbench.vue'), props: true },
  { path: 'rectifications', name: 'ledger', title: '整改台账', menu: '案件办理', roles: CASES,
    component: () => import('../views/cases/Ledger.vue') },

  { path: 'evaluation/campaigns', name: 'campaigns', title: '考评活动', menu: '督查考评', roles: EVAL,
    component: () => import('../views/evaluation/Campaigns.vue') },
  { path: 'evaluation/campaigns/:id', name: 'campaign', title: '考评活动详情', roles: EVAL, hidden: true,
    component: () => import('../views/evaluation/Campaign.vue'), props: true },

  { path: 'dashboard', name: 'dashboard', title: '领导驾驶舱', menu: '综合分析', roles: LEAD,
    component: () => import('../views/dashboard/Dashboard.vue') },
]

export const MENU_ORDER = ['综合分析', '线索分办', '单位办理', '案件办理', '督查考评']
