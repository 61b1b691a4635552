"""Conduct descriptions for the tags the first pools rarely or never carried (training only).

选人用人 (personnel_selection: appointments, promotions, recruitment and evaluations of cadres — the
organization department's matter), 站客 (standing_guest: stands by while the harm happens), 不会为 (cannot:
does not know the business), 违规发放津贴补贴 (eight_rules_benefits), 看客 (onlooker). Written from each
tag's meaning; the type is the conduct's, as for every other entry. Same slots as pools_conduct.
"""

PERSONNEL = "personnel_selection"

CONDUCT_TAGGED = {
    "no_principle": [
        ("{U}新提的副科长里有局长的外甥，还有他老同学的女儿，两人的工作年限都不够", [PERSONNEL, "mirror_self_interest"]),
        ("单位竞聘中层，考试第一名没被用，排第五的是{S}主任的司机，说是综合考虑", [PERSONNEL]),
        ("乡里选后备干部，名单是{S}书记一个人圈定的，民主推荐的票数根本没公布", [PERSONNEL]),
        ("{U}招聘的编外人员全是领导打过招呼的，外面报名的连面试通知都没收到", [PERSONNEL, "lobbyist"]),
        ("评优评先年年都是领导身边那几个人，干活多的从来轮不上，{S}科长自己说了算", [PERSONNEL]),
        ("村里推选村民小组长，{S}书记提前定好了人，投票时让人看着大家填", [PERSONNEL]),
        ("事业单位招考，岗位条件是照着副局长儿子的专业和经历量身定的，全市就他一个人符合", [PERSONNEL]),
        ("干部考察时考察组只找了领导指定的几个人谈话，反对意见多的人根本没被问", [PERSONNEL, "formalism"]),
        ("{U}把刚处分期满的人又提成了股长，群众意见很大，局里说是特殊需要", [PERSONNEL]),
        ("我们单位职称推荐名额被领导分给了自己的亲戚，条件完全够的老同志排不上", [PERSONNEL, "mirror_self_interest"]),
    ],
    "lawless": [
        ("听说在{U}提一个副职要给{S}局长送二十万，好几个人都是这么上去的", [PERSONNEL, "ctky_take"]),
        ("{S}书记收了钱帮人安排进了镇里的公益岗，花了三万块，名单上的人一天班没上过", [PERSONNEL, "ctky_take"]),
        ("有人伪造学历和工作经历，在{U}一路被提拔，组织审核档案时明知有问题也没管", [PERSONNEL]),
        ("{U}领导干部的档案年龄被改小了三岁，就为了能再干一届，经办人收了好处", [PERSONNEL]),
        ("{U}年底用虚开的发票套出十几万，给全体干部每人发了几千块过节费", ["eight_rules_benefits"]),
        ("{S}所长拿专项经费给所里人发加班补贴，实际上大家根本没加班", ["eight_rules_benefits", "mirror_self_interest"]),
        ("单位把上级拨的扶贫款挪了一部分，以误餐补助的名义发给了领导班子", ["eight_rules_benefits"]),
    ],
    "no_procedure": [
        ("{U}新任命的几个中层干部没有经过民主推荐，也没有公示，一纸通知就上岗了", [PERSONNEL]),
        ("街道招聘社区工作者不公开发布公告，{S}主任直接把人领来签合同", [PERSONNEL]),
        ("{U}的干部任前公示只贴了一天，还是贴在没人去的后楼走廊，就算走完了程序", [PERSONNEL, "formalism"]),
        ("镇里调整村干部，没开党员大会，镇上下个文件就把我们村支书换了", [PERSONNEL]),
        ("{U}没经集体研究，{S}局长一个人定了给全局职工发购物卡和交通补贴", ["eight_rules_benefits", "eight_rules_gifts"]),
    ],
    "no_rules": [
        ("{U}巧立名目给干部发放通讯补贴、健身补贴，标准都是领导自己定的", ["eight_rules_benefits"]),
        ("过节前{U}以工会名义给每个人发了一千元现金补贴，没有任何文件依据", ["eight_rules_benefits"]),
        ("{U}以考察学习为名组织干部去海南玩了一周，行程里只有半天去了一家单位", ["eight_rules_travel"]),
        ("{S}局长带着科室的人借外出培训之名游山玩水，费用全部在单位报销", ["eight_rules_travel"]),
        ("{S}站长在站里搞小圈子，谁跟他走得近谁就能评先进、拿奖金", [PERSONNEL]),
    ],
    "indifferent_to_public": [
        ("我问{P}{M}要走哪些步骤，他翻了半天手册也说不清，最后说你自己去网上查", ["cannot"]),
        ("{W}的{P}对新政策一问三不知，我拿着文件给她看，她说没学过，让我找别人", ["cannot"]),
        ("{P}连系统怎么录入都不会，折腾了一个多小时，最后说今天办不了让我明天再来", ["cannot"]),
        ("我的{M}被退回，问{P}到底哪里不合格，他自己也讲不出个所以然，只说上面不让过", ["cannot"]),
        ("老人在{U}门口摔倒了，几个工作人员站在旁边看，没一个人上前扶一把", ["standing_guest", "onlooker"]),
    ],
    "inefficient": [
        ("{P}业务很不熟，同样一份{M}材料，前后三次给我说的要求都不一样，害我跑了{K}趟", ["cannot"]),
        ("新来的{P}不会用审批系统，我的{M}录错了两次，每次重来又等{N}天", ["cannot"]),
        ("{U}换了个负责人，什么政策都不懂，事情全压着等他学，已经拖了{N}个星期", ["cannot"]),
    ],
    "idle": [
        ("小区门口有人打架，{U}的执法人员就在十几米外站着看，等人走了才过来拍照", ["standing_guest"]),
        ("河道有人偷倒建筑垃圾，巡查员站在岸上看着车一趟趟倒，一句话也不说", ["standing_guest", "onlooker"]),
        ("商贩把盲道全占了，{P}站在路口看了半天，转身就走了，说不归他管", ["standing_guest", "onlooker"]),
        ("工地晚上违规施工，{U}的人来了就在车里坐着，站一会儿就撤，噪音照旧", ["standing_guest", "passer_by"]),
    ],
    "timid": [
        ("村民为宅基地吵到动手，在场的{P}站在一边看，说闹大了他担不起责任", ["standing_guest", "mirror_self_protection"]),
        ("{S}队长面对明显的违法排污只是站着看，说等上面定了再说，不敢管", ["standing_guest", "dare_not"]),
    ],
    "uncoordinated": [
        ("这项惠企政策下来半年了，{U}的人自己都搞不懂怎么兑现，问到哪一层都说还在研究", ["cannot"]),
    ],
    "lax_untruthful": [
        ("评先进的材料是{S}科长替人编的，业绩数字都是照着别人的改的，最后还真评上了", [PERSONNEL, "formalism"]),
    ],
}
