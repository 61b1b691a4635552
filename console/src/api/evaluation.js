import { get, post } from './http'
const B = '/api/v1/evaluation'
export const enumerations = () => get(`${B}/enumerations`)
export const campaigns = (q) => get(`${B}/campaigns`, q)
export const campaign = (id) => get(`${B}/campaigns/${id}`)
export const campaignUnits = (id) => get(`${B}/campaigns/${id}/units`)
export const importUnitsFromDirectory = (id) => post(`${B}/campaigns/${id}/units:import-directory`)
export const addUnits = (id, units) => post(`${B}/campaigns/${id}/units`, { units })
export const transition = (id, action) => post(`${B}/campaigns/${id}/transitions`, { action })
export const closeCampaign = (id) => post(`${B}/campaigns/${id}/close`)
export const ballots = (id, q) => get(`${B}/campaigns/${id}/ballots`, q)
export const reviewBallot = (id, ballotId, body) => post(`${B}/campaigns/${id}/ballots/${ballotId}/review`, body)
export const rankings = (id) => get(`${B}/campaigns/${id}/rankings`)
export const rankingsXlsx = (id) => `${B}/campaigns/${id}/rankings.xlsx`
export const movement = (q) => get(`${B}/rankings/movement`, q, { quiet: true })
