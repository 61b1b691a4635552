import { get, post, patch } from './http'
const B = '/api/v1/accountability'
export const enumerations = () => get(`${B}/enumerations`)
export const cases = (q) => get(`${B}/cases`, q)
export const caseDetail = (id) => get(`${B}/cases/${id}`)
export const updateCase = (id, body) => patch(`${B}/cases/${id}`, body)
export const transition = (id, body) => post(`${B}/cases/${id}/transitions`, body)
export const addPerson = (id, body) => post(`${B}/cases/${id}/persons`, body)
export const addFinding = (id, body) => post(`${B}/cases/${id}/findings`, body)
export const addMeasure = (id, personId, body) => post(`${B}/cases/${id}/persons/${personId}/measures`, body)
export const caseRectifications = (id) => get(`${B}/cases/${id}/rectifications`)
export const addRectification = (id, body) => post(`${B}/cases/${id}/rectifications`, body)
export const rectifications = (q) => get(`${B}/rectifications`, q)
export const submitEvidence = (caseId, rid, body) => post(`${B}/cases/${caseId}/rectifications/${rid}/evidence`, body)
export const signOff = (caseId, rid) => post(`${B}/cases/${caseId}/rectifications/${rid}/sign-off`)
export const stats = (q) => get(`${B}/stats`, q, { quiet: true })
export const casesXlsx = () => `${B}/cases.xlsx`
export const statsXlsx = () => `${B}/stats.xlsx`
export const caseDocx = (id) => `${B}/cases/${id}/document.docx`
export const bulletinDocx = (month) => `${B}/bulletins/${month}.docx`
