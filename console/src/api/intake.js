import { post } from './http'
const B = '/api/v1/intake'
// 查看实名举报人身份: only investigators, with a reason and another investigator's approval (audited).
export const approveReveal = (clueId, body) => post(`${B}/clues/${clueId}/identity:approvals`, body)
export const revealIdentity = (clueId, reason) => post(`${B}/clues/${clueId}/identity:reveal`, { reason })
