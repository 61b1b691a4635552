import { get, post, patch, postForm } from './http'
const B = '/api/v1/triage'
export const taxonomy = () => get(`${B}/taxonomy`)
export const clues = (q) => get(`${B}/clues`, q)
export const clue = (id) => get(`${B}/clues/${id}`)
export const overrideClue = (id, body) => patch(`${B}/clues/${id}`, body)
export const startDailyRun = (runDate) => post(`${B}/daily-runs`, runDate ? { run_date: runDate } : {})
export const dailyRun = (id) => get(`${B}/daily-runs/${id}`)
export const dailySheet = (date, opts) => get(`${B}/daily-sheets/${date}`, undefined, opts)
export const confirmSheet = (date) => post(`${B}/daily-sheets/${date}/confirm`)
export const dailySheetXlsx = (date) => `${B}/daily-sheets/${date}.xlsx`
export const dailySheetCsv = (date) => `${B}/daily-sheets/${date}.csv`
export const transfers = (q) => get(`${B}/transfers`, q)
export const transfer = (id) => get(`${B}/transfers/${id}`)
export const transferStats = (q) => get(`${B}/transfers/stats`, q)
export const submitResult = (id, form) => postForm(`${B}/transfers/${id}/results`, form)
export const reviewResult = (id, body) => post(`${B}/transfers/${id}/review`, body)
export const units = (q) => get(`${B}/units`, q)
export const statsDaily = (q) => get(`${B}/stats/daily`, q, { quiet: true })
export const statsHeatmap = (q) => get(`${B}/stats/heatmap`, q, { quiet: true })
