"""Hand-written example sentences for each variety, for tests and few-shot prompts.

Written for this project (not taken from any corpus); several per variety, some in
traditional characters, each showing typical markers of its variety.
"""

from dataclasses import dataclass

from shared.dialect.labels import LABELS


@dataclass(frozen=True)
class Example:
    """One sentence and the variety it is written in."""

    text: str
    label: str


EXAMPLES: tuple[Example, ...] = (
    # 普通话
    Example("我明天要去北京开会，你有什么事吗？", "普通话"),
    Example("这本书我已经看完了，写得很好。", "普通话"),
    Example("他們昨天晚上在餐廳吃飯，聊到很晚才回家。", "普通话"),
    Example("請問去火車站怎麼走？", "普通话"),
    # 四川话
    Example("你在做啥子？莫得事就过来耍嘛。", "四川话"),
    Example("这个火锅巴适得很，安逸惨了！", "四川话"),
    Example("你咋个又不晓得喃？", "四川话"),
    Example("幺儿，快点回屋头吃饭了。", "四川话"),
    Example("莫慌，我们摆哈儿龙门阵再走。", "四川话"),
    Example("這個娃兒硬是瓜兮兮的。", "四川话"),
    # 粤语
    Example("佢哋而家喺邊度食緊飯？", "粤语"),
    Example("我唔知點解佢今日冇嚟。", "粤语"),
    Example("你食咗飯未呀？", "粤语"),
    Example("呢啲嘢好平，買多啲啦。", "粤语"),
    Example("我好钟意同佢一齐行街。", "粤语"),
    # 上海话
    Example("侬今朝夜里向去啥地方白相？", "上海话"),
    Example("阿拉一道去吃夜饭好伐？", "上海话"),
    Example("伊勿晓得搿桩事体。", "上海话"),
    Example("儂哪能講閒話介響？", "上海话"),
    Example("搿只物事交关贵，覅买了。", "上海话"),
    # 东北话
    Example("你嘎哈呢？过来唠嗑呗。", "东北话"),
    Example("这菜贼好吃，老香了！", "东北话"),
    Example("瞅你那埋汰样，赶紧去洗洗。", "东北话"),
    Example("這事兒咋整啊？別磨嘰了。", "东北话"),
    Example("哎呀妈呀，这嘎达冷得嘎嘎的。", "东北话"),
    # 河南话
    Example("你弄啥嘞？中不中啊？", "河南话"),
    Example("今儿个这饭吃着可得劲。", "河南话"),
    Example("恁家妮儿长得真排场。", "河南话"),
    Example("俺娘说喝罢汤再去。", "河南话"),
    Example("中！明兒個俺就去。", "河南话"),
    # 湖南话
    Example("你在搞么子咯？", "湖南话"),
    Example("恰饭哒冒？快点来恰。", "湖南话"),
    Example("咯个伢子霸蛮得很。", "湖南话"),
    Example("莫港哒，我来不赢哒。", "湖南话"),
    Example("細伢子蠻靈泛咯。", "湖南话"),
    # 陕西话
    Example("额滴神啊，你嫑急。", "陕西话"),
    Example("走，咥一碗油泼面去。", "陕西话"),
    Example("咱谝一阵闲传，你弄撒咧？", "陕西话"),
    Example("這事么麻達，嘹咋咧！", "陕西话"),
    Example("碎娃，你克阿搭咧？", "陕西话"),
)

assert {example.label for example in EXAMPLES} == set(LABELS), "every variety needs examples"


def examples_for(label: str) -> list[Example]:
    """The examples written in ``label``."""
    return [example for example in EXAMPLES if example.label == label]
