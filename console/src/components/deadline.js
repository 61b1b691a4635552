// Red / amber / green for a deadline: overdue, due within three days, or comfortably ahead (or done).
export function deadlineLight(deadline, done = false, overdue = false) {
  if (done) return 'green'
  if (overdue) return 'red'
  if (!deadline) return 'green'
  const days = (new Date(deadline) - new Date()) / 86400000
  return days < 0 ? 'red' : days <= 3 ? 'amber' : 'green'
}
export const LIGHT_LABEL = { red: '已超期', amber: '临期', green: '正常' }
