// As services/evaluation/domain.py names them (STATE_LABELS, channels, the transitions).
export const CAMPAIGN_STATES = { draft: '草稿', open: '投票中', closed: '已截止', published: '已公布' }
export const ACTIONS = { open: '开始投票', close: '截止投票', publish: '公布结果' }
export const NEXT = { draft: ['open'], open: ['close'], closed: ['publish'], published: [] }
export const CHANNELS = { web: '网页', sms: '短信', wechat: '微信', paper: '纸质选票' }
