import { get, post } from './http'
const B = '/api/v1/notification'
export const enumerations = () => get(`${B}/enumerations`)
export const inbox = (q) => get(`${B}/inbox`, q)
export const markRead = (id, unitId) => post(`${B}/inbox/${id}/read${unitId ? `?unit_id=${encodeURIComponent(unitId)}` : ''}`)
export const bulletins = (q) => get(`${B}/bulletins`, q)
