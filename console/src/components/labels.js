// The enumerations' Chinese labels, loaded once per page load: pages show labels, never codes.
import { reactive } from 'vue'
import * as triage from '../api/triage'
import * as acc from '../api/accountability'

// Channels are a closed list in the event contract (services/common/contracts/intake.py).
const CHANNELS = { hotline_12388: '12388举报电话', hotline_12345: '12345政务热线', hotline_12380: '12380举报电话',
  qr_code: '扫码举报', petition: '信访', media: '媒体曝光', online: '网络举报', walk_in: '来访', inspection: '明察暗访',
  mayor_line: '市长专线', open311: '开放接口', project_check: '重点项目督查' }

export const labels = reactive({ family: {}, type: {}, tag: {}, trigger: {}, decision: {}, channel: { ...CHANNELS },
  caseState: {}, action: {}, measure: {}, rank: {}, responsibility: {}, finding: {}, rectStatus: {},
  forms: {}, measureForm: {} })

const pairs = (list, key = 'code', val = 'label') => Object.fromEntries((list || []).map((x) => [x[key], x[val]]))
let triageLoaded = null
let accLoaded = null

export function loadTriageLabels() {
  triageLoaded ||= triage.taxonomy().then((t) => {
    for (const f of t.families || []) { labels.family[f.code] = f.label; Object.assign(labels.type, pairs(f.types)) }
    for (const g of t.tag_groups || []) Object.assign(labels.tag, pairs(g.tags))
    Object.assign(labels.trigger, pairs(t.must_investigate || []))
    Object.assign(labels.decision, pairs(t.decisions || []))
  }).catch(() => {})
  return triageLoaded
}

export function loadCaseLabels() {
  accLoaded ||= acc.enumerations().then((e) => {
    Object.assign(labels.caseState, pairs(e.states, 'code', 'name'))
    Object.assign(labels.action, pairs(e.actions, 'code', 'name'))
    Object.assign(labels.measure, pairs(e.measures, 'code', 'name'))
    Object.assign(labels.measureForm, pairs(e.measures, 'code', 'form'))
    Object.assign(labels.rank, pairs(e.ranks, 'code', 'name'))
    Object.assign(labels.responsibility, pairs(e.responsibilities, 'code', 'name'))
    Object.assign(labels.finding, pairs(e.findings, 'code', 'name'))
    Object.assign(labels.rectStatus, pairs(e.rectification_statuses, 'code', 'name'))
    Object.assign(labels.forms, pairs(e.forms, 'form', 'name'))
  }).catch(() => {})
  return accLoaded
}

// A label for a code, or a neutral dash: an unknown code is not shown to a person.
export const L = (group, code) => (code === null || code === undefined || code === '' ? '—'
  : labels[group]?.[code] ?? '—')

export function fmtTime(v) {
  if (!v) return '—'
  const d = new Date(v)
  return Number.isNaN(d.getTime()) ? v : d.toLocaleString('zh-CN', { hour12: false, timeZone: 'Asia/Shanghai' })
}

export function today() {
  return new Date().toLocaleDateString('sv-SE', { timeZone: 'Asia/Shanghai' })
}
