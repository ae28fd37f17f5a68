"""A small sales-like schema with one report per use case (tests of portal.engines.reports)."""

from __future__ import annotations

from pathlib import Path

from conftest import write_tree

FILES = {
    "roles.yaml": "roles: {rep: {}, director: {}, clerk: {}}\n",
    "entities/sales/customer.yaml": """
entity: customer
title: name
fields:
  name: {type: string, required: true}
  grade: {type: enum, values: [A, B, C], default: C}
  owner: {type: user, default: current_user}
access:
  rep: {read: own, create: true, update: own}
  director: {read: all, create: true, update: all}
""",
    "entities/sales/opportunity.yaml": """
entity: opportunity
title: name
fields:
  name: {type: string, required: true}
  customer: {type: link, entity: customer}
  amount: {type: money}
  cost: {type: money}
  stage: {type: enum, values: {prospecting: {zh_CN: 初步接触}, proposal: {zh_CN: 方案报价},
                               won: {zh_CN: 赢单}, lost: {zh_CN: 输单}}}
  close_date: {type: date}
  owner: {type: user, default: current_user}
access:
  rep: {read: own, create: true, update: own}
  director: {read: all, create: true, update: all}
  clerk: {read: all, hide: [amount]}
""",
    "workflows/opportunity.yaml": """
workflow: opportunity_flow
entity: opportunity
state_field: stage
states: [prospecting, proposal, won, lost]
transitions:
  propose: {from: prospecting, to: proposal, by: owner}
  win: {from: proposal, to: won, by: owner}
  lose: {from: [prospecting, proposal], to: lost, by: owner}
""",
    "entities/sales/quota.yaml": """
entity: quota
fields:
  rep: {type: user}
  month: {type: date}
  amount: {type: money}
owner: rep
access:
  rep: {read: own}
  director: {read: all, create: true, update: all}
""",
    "entities/sales/activity.yaml": """
entity: activity
fields:
  subject: string
  planned: {type: date}
  status: {type: enum, values: [planned, done]}
  owner: {type: user, default: current_user}
access:
  rep: {read: own, create: true, update: own}
  director: {read: all, create: true, update: all}
""",
    "entities/sales/encounter.yaml": """
entity: encounter
fields:
  competitor: {type: string, required: true}
  opportunity: {type: link, entity: opportunity}
access:
  rep: {read: own, create: true}
  director: {read: all, create: true}
""",
    "entities/finance/instalment.yaml": """
entity: instalment
fields:
  due_date: {type: date}
  amount: {type: money}
  paid: {type: bool}
  reason: {type: enum, values: [cash_flow, dispute, forgotten]}
access:
  director: {read: all, create: true, update: all}
""",
    "reports/pareto.yaml": """
report: customer_pareto
label: {en: Customer value (80/20), zh_CN: 客户价值（二八）}
module: sales
access: [director, rep]
entity: opportunity
where: "stage == 'won'"
group_by: [customer]
measures:
  revenue: {sum: amount, label: {en: Revenue, zh_CN: 收入}}
  share: {cumulative_share: revenue, label: Cumulative share}
  rank: {rank_share: true, label: Customers so far}
order_by: -revenue
chart: {type: pareto, measures: [revenue], top: 20}
""",
    "reports/forecast.yaml": """
report: weighted_forecast
label: {en: Weighted forecast, zh_CN: 加权预测}
module: sales
access: [director, rep]
entity: opportunity
where: "stage != 'lost'"
filters: [owner, close_date, customer.grade]
group_by: [{close_date: month}]
measures:
  deals: count
  pipeline: {sum: amount}
  weighted: {sum: amount, weights: {stage: {prospecting: 0.1, proposal: 0.55, won: 1}}}
  margin: {sum: amount - cost}
chart: {type: stacked_bar, measures: [weighted]}
""",
    "reports/quota.yaml": """
report: quota_attainment
label: Quota attainment
module: sales
access: [director, rep]
filters: [rep, month]
series:
  target:
    entity: quota
    group_by: [rep, {month: month}]
    measures: {quota: {sum: amount}}
  actual:
    entity: opportunity
    where: "stage == 'won'"
    group_by: [owner, {close_date: month}]
    measures: {won: {sum: amount}}
measures:
  attainment: {ratio: [won, quota]}
chart: {type: bar, measures: [quota, won]}
""",
    "reports/funnel.yaml": """
report: stage_funnel
label: {en: Funnel, zh_CN: 销售漏斗}
access: [director]
entity: opportunity
history: true
group_by: [state]
measures:
  reached: count
  conversion: {from_previous: reached}
  leak: {drop_off: reached}
  avg_days: {avg: days_in_state}
  max_days: {max: days_in_state}
chart: {type: funnel, measures: [reached]}
""",
    "reports/by_grade.yaml": """
report: by_grade
access: [director, rep, clerk]
entity: opportunity
group_by: [customer.grade]
measures:
  deals: count
  customers: {count_distinct: customer}
chart: pie
""",
    "reports/planned_done.yaml": """
report: planned_vs_done
access: [director]
entity: activity
group_by: [owner, {planned: day}]
measures:
  planned: count
  done: {count: "status == 'done'"}
  rate: {ratio: [done, planned]}
chart: {type: line, measures: [planned, done]}
""",
    "reports/competitors.yaml": """
report: competitor_win_loss
access: [director]
entity: encounter
group_by: [competitor]
measures:
  met: {count_distinct: opportunity}
  won: {count_distinct: opportunity, where: "opportunity.stage == 'won'"}
  lost: {count_distinct: opportunity, where: "opportunity.stage == 'lost'"}
  win_rate: {ratio: [won, met]}
chart: {type: bar, measures: [won, lost]}
""",
    "reports/overdue.yaml": """
report: overdue_by_reason
access: [director]
entity: instalment
where: "due_date < today and not paid"
group_by: [reason]
measures:
  items: count
  amount: {sum: amount}
  share: {share: amount}
chart: {type: bar, measures: [amount]}
""",
    "reports/weekly.yaml": """
report: buckets
access: [director]
entity: opportunity
group_by: [{close_date: week}]
measures: {deals: count}
chart: {type: bar}
""",
}


def report_schema(root: Path) -> Path:
    """Write the schema under ``root``."""
    return write_tree(root, FILES)
