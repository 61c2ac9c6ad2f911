"""Weighted marker words and constructions for each variety of written Chinese.

The tables come from what dialect grammars and dictionaries describe: function words
(pronouns, negators, aspect markers, sentence particles), everyday vocabulary that
differs from Mandarin, and a few regex constructions where a bare character would be
too ambiguous (河南话 中 is only evidence as an answer, "中不中"; 上海话 伐 only as a final
particle, not in 步伐).

Weights are log-odds-like: about 3 for a marker only that variety writes, about 2 for a
marker that is clear in context, about 1 or less for one that only supports others.
The detector compares the sum per variety with a Mandarin baseline of about 1.7, so a
single marker of weight 2 or more can decide a short sentence on its own, and a weak
one never does.

Markers may be written in traditional or simplified characters: the detector converts
both its input and every marker with OpenCC t2s, so they meet in one script.
"""

import re
from dataclasses import dataclass

from shared.dialect.labels import LABELS
from shared.dialect.script import to_simplified
from shared.dialect.wordlists import read_words

STRONG = 3.0
"""Only this variety writes it."""
CLEAR = 2.5
"""Specific to this variety, rare elsewhere."""
MEDIUM = 2.0
"""Decides a short sentence alone, but appears occasionally elsewhere."""
WEAK = 1.0
"""Supporting evidence only; below the Mandarin baseline on its own."""
SURVEY_WORD = 2.0
"""A word a dialect survey records for this variety's points and for none of the others,
which standard Mandarin text rarely writes (checked against jieba's counts when the list was
made): decides a short sentence alone, like MEDIUM."""


@dataclass(frozen=True)
class Marker:
    """One piece of evidence for a variety.

    ``text`` is the literal word to find, or, when ``pattern`` is set, a short human
    label for the construction the regex ``pattern`` finds.
    """

    text: str
    weight: float
    note: str = ""
    pattern: str = ""
    as_written: bool = False
    """Match against the text in its own script, before conversion to simplified: for
    distinctions t2s erases, such as Cantonese 係 'to be' versus 系 in 系統."""

    def __post_init__(self) -> None:
        if not self.text:
            raise ValueError("a marker needs a text")
        if self.weight <= 0:
            raise ValueError(f"marker {self.text!r} needs a positive weight")
        if self.pattern:
            re.compile(self.pattern)  # fail at import, not on the first text

    @property
    def is_pattern(self) -> bool:
        return bool(self.pattern)


def _words(weight: float, words: str, note: str = "") -> list[Marker]:
    """Markers for space-separated literal words sharing one weight."""
    return [Marker(word, weight, note) for word in words.split()]


def _listed(weight: float, filename: str, note: str) -> list[Marker]:
    """Markers for the words of a data file (``wordlists``), sharing one weight."""
    return [Marker(word, weight, note) for word in read_words(filename)]


def _rx(text: str, pattern: str, weight: float, note: str = "", as_written: bool = False) -> Marker:
    return Marker(text, weight, note, pattern, as_written)


# Punctuation or the end of the text: sentence-final particles are only evidence there.
_END_CHAR = r"[\s。！？!?，,；;：:…~～、」』”\"')）]"
_END = rf"(?={_END_CHAR}|$)"
# A verb right before an aspect suffix such as 紧 or 倒.
# 得很 closing a clause (好得很。), not 得很好 'did it well'.
_VERY_END = rf"得很(?=[嘛哦噻啊呢哈咧嘞了]|{_END_CHAR}|$)"
_VERBS = "做食吃睇看讲谂揾等行饮瞓玩写读返搞倾煮洗揸用学听睡坐企跑买卖拿坐站守跟望想记抱背提端盯逮捏按抓管找"

CANTONESE: list[Marker] = [
    *_words(
        STRONG,
        "佢 咗 嘅 喺 啲 嚟 嘢 噉 哋 嗰 乜 㗎 嘥 攞 揾 搵 諗 睇 瞓 啱 冚 嬲 攰 揸 踎 嚿 揼 掟 搣 撳 𢱕 噏 餸 乸 啫 啩 噃 喎 㖭 咁 冇",
        "Cantonese-only character",
    ),
    *_words(
        STRONG,
        "點解 點樣 點知 邊個 邊度 邊間 邊位 邊處 邊隻 邊條 邊便 幾耐 好耐 而家 依家 宜家 琴日 尋日 聽日 琴晚 聽晚 晏晝 朝早",
        "question word or time word",
    ),
    *_words(
        STRONG,
        "鍾意 屋企 返工 返學 放工 落班 出街 落街 落車 揸車 打風 好彩 食飯 飲茶 冲涼 沖涼 踢波 打波 影相 游水 埋單 "
        "靚仔 老細 細路 細佬 老豆 老竇 後生仔 雪櫃 士多 電單車 銀紙 毫子 屋邨 差佬 差館 車仔麵 薯仔 粟米 香口膠 雪條 忌廉 朱古力 "
        "巴閉 肚餓 頸渴 眼瞓 訓覺 話畀 話你知 係咪 多謝晒 唔該",
        "everyday Cantonese word",
    ),
    *_words(
        CLEAR,
        "靚女 家姐 頭先 成日 成晚 第日 幾多 一齊 人哋 啤啤 公仔 布甸 士多啤梨 三文治 多士 啫喱 街市 點心紙 搭枱 傾偈",
        "Cantonese word",
    ),
    *_words(MEDIUM, "中意 企喺 後生 沙律 冰室 魚蛋 手袋 芝士 貼士 煲仔 私家車", "Cantonese or Hong Kong usage"),
    *_words(WEAK, "今日 落雨 靚 犀利 巴士 的士 冷氣 單車 啤酒肚 茶樓 叉燒 蛋撻 多謝", "also seen in Mandarin"),
    _rx("唔+X", r"唔(?=[\u4e00-\u9fff])", STRONG, "negator 唔 before a word"),
    _rx(
        "係 (copula)",
        r"(?:(?<=[唔就都真仲又亦即只梗實成或我你佢呢嗰邊乜點咁噉嘅人誰])|^)係(?![統列數])|係(?=咪|唔|咁|噉|嘅|㗎|啊|呀|喇|啦|邊|乜|咩|度|喺)",
        CLEAR,
        "係 as 'to be'; not 關係 or 系統",
    ),
    _rx(
        "係 (traditional)",
        r"(?<![關聯连連维維])係(?![數数])",
        CLEAR,
        "係 as written in traditional script is 'to be' outside 關係",
        as_written=True,
    ),
    _rx("咩 (question)", r"咩", CLEAR, "question particle or 'what'"),
    _rx("V緊 (progressive)", rf"[{_VERBS}]緊(?![張急要密接跟握縮迫湊身])", CLEAR, "progressive aspect"),
    _rx(
        "V晒 (all)",
        r"(?:多謝|唔該|食|飲|做|用|賣|走|冇|搞|睇|講|嚟|唔見)晒(?!太陽|衣|被|乾|黑|傷|圖|穀|書|到)",
        STRONG,
        "completive 'all'",
    ),
    _rx(
        "呢+classifier",
        r"呢(?=個|度|啲|排|間|次|位|條|件|本|隻|樣|邊|日|晚|陣|種|首|張|部|架|碗|杯|對|處)",
        CLEAR,
        "呢 as 'this'",
    ),
    _rx(
        "仲 (still)",
        r"仲(?=有|未|係|要|好|喺|唔|得|可以|會|記得|食|講|想|多|大|細|靚|冇|喺度)",
        CLEAR,
        "仲 as 'still, even'",
    ),
    _rx(
        "食+object",
        r"食(?=飯|煙|藥|早餐|晏|咗|緊|過|晒|埋|得|唔|嘢|啲|麵|粥|雞|魚|菜|生果|糖|雪糕|點心|嘢)",
        CLEAR,
        "食 as 'eat'",
    ),
    _rx("飲+object", r"飲(?=嘢|咗|緊|杯|啖|啲|湯|奶|咖啡|可樂|啤酒|茶|水)", MEDIUM, "飲 as 'drink'"),
    _rx("俾 (give)", r"俾(?!斯|使)", CLEAR, "俾 as 'give, let'"),
    _rx("畀 (give)", r"畀(?!予)", STRONG, "畀 as 'give, let'"),
    _rx("咋 (only, final)", rf"咋{_END}", MEDIUM, "sentence-final 咋 'only'"),
    _rx("喇 (final)", r"喇(?!叭|嘛)", MEDIUM, "sentence particle"),
    _rx("吖 (final)", r"吖", MEDIUM, "sentence particle"),
    _rx("嗱", r"嗱", MEDIUM, "'here, look'"),
    _rx("啰 (final)", rf"囉{_END}", WEAK, "sentence particle"),
    _rx("X仔 (diminutive)", r"(?:貓|狗|雞|男|女|細路|後生|打工|牛|魚|車|凳|豬|鴨)仔(?!細|褲)", CLEAR, "diminutive 仔"),
    _rx("N蚊 (dollars)", r"(?:[一二三四五六七八九十百千萬兩幾\d]+)蚊", STRONG, "蚊 as 'dollar'"),
    _rx("識 (know how)", r"識(?=講|唔|做|游水|揸|煮|寫|聽|睇|得|嘢)", CLEAR, "識 as 'know how to'"),
    _rx("企 (stand)", r"企(?=喺|起身|定|埋|開|住|穩)", CLEAR, "企 as 'stand'"),
    _rx("行街 (go shopping)", r"(?<!步)行街", STRONG, "'go out shopping'"),
    _rx("行 (walk)", r"行(?=咗|緊|過去|過嚟|山|開|出去|入去|埋|路)", MEDIUM, "行 as 'walk'"),
    _rx("返+place", r"返(?=去|嚟|屋企|香港|鄉下|公司|學校|酒店)", MEDIUM, "返 as 'go back'"),
    _rx("先 (final)", rf"(?<![首事原優領在祖預搶率爭起最為早])先{_END}", WEAK, "sentence-final 先 'first'"),
    _rx("衰+N", r"衰(?=人|仔|公|婆|鬼|嘢|過|啦)", CLEAR, "衰 as 'nasty'"),
    _rx(
        "好平 (cheap)", r"(?:好|咁|幾|太|都幾)平(?!安|時|等|均|靜|常|方|面|臺|台|衡|凡|和|穩)", MEDIUM, "平 as 'cheap'"
    ),
    _rx("幾+adj (quite)", r"幾(?=好睇|好食|靚|平|貴|遠|近|難|易|舒服|開心|得意|有趣|好玩)", MEDIUM, "幾 as 'quite'"),
    _rx("咪 (don't / then)", r"(?<![貓咪麥])咪(?![咪表])", MEDIUM, "咪 as 'don't' or 'then'"),
    _rx("冇得", r"冇得", CLEAR, "'there is no'"),
    _rx(
        "V吓 (a bit)",
        r"(?:試|用|問|睇|諗|聽|講|食|飲|行|玩|等|坐|傾|學|寫|做|摸|揾|搵|搞|整|洗|執|諗|望|休息)吓",
        STRONG,
        "delimitative 吓 'have a go'",
    ),
    _rx(
        "V下 (a bit)",
        r"(?:試|用|睇|諗|聽|傾|揾|搵|執|玩|學|食|飲|休息|諗)下(?![來去面午次個周月載班樓車雨雪山手崗臺台達令屬棋降水游課落滑跌列述半邊廚鄉回一])",
        MEDIUM,
        "delimitative 下 'have a go'",
    ),
    *_words(
        CLEAR,
        "好似 好靚 唔該晒 周時 成個 一陣間 遲啲 早啲 多啲 少少 啲啲 即係 淨係 仲係 都係 就係 唔係",
        "Cantonese phrase",
    ),
    *_words(WEAK, "周身 屙 阿爺", "also in other southern varieties"),
    _rx(
        "嗰/呢+單 etc.", r"(?:呢|嗰)(?=單|份|套|輪|餐|架|間|區|首|句|齣|場|盒|袋|包|隻)", CLEAR, "demonstrative 呢, 嗰"
    ),
]

SHANGHAINESE: list[Marker] = [
    *_words(
        STRONG,
        "儂 𠲎 覅 朆 搿 呒没 嘸沒 呒啥 辰光 物事 交關 哪能 哪恁 幾化 幾鈿 銅鈿 今朝 儂拉 辣海 辣辣 勒海 垃拉 "
        "屋裡廂 裡廂 門口頭 汏 困覺 白相 結棍 戇大 實梗 迭能 格能 格末 葛末 勿曉得 勿要 勿是 勿好 勿對 勿來事 勿搭界 覅緊 "
        "好伐 是伐 對伐 要伐 有伐 晏歇 等一歇 一歇歇 一眼眼 日腳 爺叔 娘舅 小囡 囡囡 老酒 吃香煙 吃老酒 講閒話 弄堂 啥辰光 啥人 "
        "啥物事 啥個 迭個 迭只 迭搭 搿個 搿搭 埃個 哀個 伊個 一塌刮子 老清老早 夜快 上半日 下半日 一日到夜 老底子 拎勿清 "
        "觸霉頭 嘎許多 交關好 邪氣好",
        "Wu (Shanghainese) word",
    ),
    *_words(
        CLEAR,
        "來事 搭界 咾 侪 儕 囡 嗲 戇 適意 鄉下頭 下底 後底 明朝 落雪 洋傘 自來火 夜飯 汏浴 衣裳 揩 掼 摜 阿是 姆媽 阿姐 阿哥",
        "Wu word",
    ),
    *_words(MEDIUM, "歡喜 自家 一道 寫意 喏 啥地方 做啥", "Wu usage, also literary Mandarin"),
    *_words(
        WEAK, "曉得 蠻 昨日 前日 後日 屋裡 老早 閒話 寻 尋 礼拜 禮拜 吃茶 碰著 碰着", "shared with other varieties"
    ),
    _rx("勿 (not)", r"(?<![請切毋務])勿(?![忘論庸])", CLEAR, "negator 勿; not 請勿 or 切勿"),
    _rx("呒 (not)", r"呒", CLEAR, "negator 呒"),
    _rx("伐 (question)", rf"(?<![步砍征討採采北攻殺撻誅])伐{_END}", CLEAR, "yes-no question particle"),
    _rx(
        "伊 (he, she)",
        r"(?<![木乃維西埃阿普克馬斯])伊(?!朗|斯|拉克|甸|麗|莉|萬|凡|利|犁|爾|索|達|娃|莎|蓮|蒂|比|恩|芙|夫|薩|藤|寧|琳|格|布|迪|貝|始|通|勢|春|人|豆|犁|頓|莉)",
        MEDIUM,
        "third-person pronoun 伊",
    ),
    _rx("阿拉 (we)", r"阿拉(?!伯|斯加|丁|木圖|巴馬|善)", STRONG, "'we'; not 阿拉伯"),
    _rx("伊拉 (they)", r"伊拉(?!克)", STRONG, "'they'; not 伊拉克"),
    _rx("X個 (possessive/final)", r"(?:儂|伊|阿拉|伊拉|自家)個(?!人|子|頭|性|別|體|位|案)", MEDIUM, "個 as 'of'"),
    # 我個 is Mandarin in 給我個機會 and 我個人, so only without a verb before it.
    _rx("我個 (my)", r"(?<![給幫讓叫借送還問教請找留])我個(?!人|子|頭|性|別|體|位|案)", MEDIUM, "個 as 'of'"),
    _rx("個 (final)", rf"(?<![一兩幾這那哪每某整半各個真是])個{_END}", WEAK, "sentence-final 個"),
    _rx("X額 (of)", r"(?:儂|伊|我|阿拉|伊拉|好|老)額(?!外|度|頭|定)", MEDIUM, "額 written for 'of'"),
    _rx(
        "末 (topic)",
        r"(?:儂|我|伊|阿拉|伊拉|迭|搿|葛|格|個)末(?!了|日|尾|期|端|班|梢|世|路|代)",
        MEDIUM,
        "topic particle 末",
    ),
    _rx(
        "辣/勒 (at, -ing)",
        r"(?:辣|勒)(?=吃|做|看|講|寫|困|睏|等|白相|上班|讀|學|尋|汏|屋裡|屋里|啥地方|海)",
        CLEAR,
        "locative or progressive 辣, 勒",
    ),
    _rx("拨 (give, by)", r"(?:拨|撥)(?=儂|伊|我|阿拉|伊拉|人家|伊個)", MEDIUM, "撥 as 'give, by'"),
    _rx("搭 (with)", r"(?:我|儂|伊|阿拉|伊拉)(?:搭|脫)(?=儂|我|伊|阿拉|伊拉)", CLEAR, "搭 as 'and, with'"),
    _rx(
        "V脫 (completive)",
        r"(?:吃|賣|忘記|跑|丟|用|壞|死|關|扔|掼|摜|洗|汏|揩|拆|燒|落|輸|脫|擺脫|甩)脫(?!離|口|落|穎|衣|手|身|貧|水|胎|節|銷|光)",
        MEDIUM,
        "completive 脫",
    ),
    _rx("V仔 (perfective)", r"(?:吃|做|看|講|寫|買|賣|拿|去|來|到|等|走|困)仔(?!細|褲)", MEDIUM, "perfective 仔"),
    _rx(
        "老+adj (very)",
        r"老(?=靈|嶄|貴|便宜|適意|開心|歡喜|結棍|嗲|吃力|好看|好吃|漂亮|清爽|好個|好額|多個|遠個|大個)",
        MEDIUM,
        "老 as 'very'",
    ),
    _rx("介+adj (so)", r"介(?=好|大|多|貴|便宜|快|慢|遠|近|冷|熱|小|長|早|晚|晏|許多|難)", MEDIUM, "介 as 'so'"),
    _rx("忒 (too)", r"忒", WEAK, "'too'"),
    _rx("邪氣 (very)", r"邪氣(?=好|大|多|貴|冷|熱|漂亮|開心|靈|嶄)", CLEAR, "'very'"),
    _rx("吃+香烟/茶", r"吃(?=香煙|煙|茶|老酒)", MEDIUM, "吃 for smoke or drink"),
    _rx("啥 (what)", r"啥(?!子)", WEAK, "'what'"),
    *_words(
        STRONG,
        "㑚 伲 倷 高頭 浪向 中浪向 拉海 來死 鈿 價鈿 車鈿 房鈿 洋鈿 一眼啥 有眼 好眼 多眼 少眼",
        "Wu function word or morpheme",
    ),
    _rx(
        "個 (attributive)",
        r"(?<![我你他她一二三四五六七八九十百千萬零兩倆幾這那哪每某整半各個上下多少麼是有真了只打找買做吃睡洗唱看說講問來去給換送挑請寫開生養像當成算叫沒點立])個(?=[一-鿿])(?![人子頭性別體位案兒])",
        WEAK,
        "個 where Mandarin writes 的",
    ),
    _rx(
        "拉 (at)",
        r"(?:忘記|放|擺|掛|坐|立|住|停|寫|貼|睏|困|生|死|落|摜|掼|擱|攤|藏|躲|登|排)拉(?![開上下出進回起住倒長近動面鏈著着了])",
        CLEAR,
        "locative 拉 after a verb",
    ),
    _rx(
        "拉+place (at)",
        r"拉(?=屋裡|屋里|家裡|學堂|上海|北京|臺子|台子|枕頭|門口|桌子|床|外頭|裡向|里向|樓上|樓下|此地|搿搭|迭搭|哪裡|啥地方|海|辣)",
        MEDIUM,
        "locative 拉 before a place",
    ),
    _rx(
        "X浪 (on)",
        r"(?:身|桌子|臺子|台子|牆|牆頭|馬路|街|床|地|樓|路|手|面孔|黃浦江|凳子|天|屋頂|窗)浪(?![費漫潮花頭子人蕩])",
        CLEAR,
        "浪 as 'on, at'",
    ),
    _rx("得來 (very)", rf"得來(?=死|{_END_CHAR}|$)", CLEAR, "intensifier 得來"),
    _rx(
        "阿+V (question)",
        r"(?<![a-zA-Z])阿(?=要|是|有|好|會|曉得|去|來|吃|對|能|肯|喜歡|歡喜)",
        MEDIUM,
        "yes-no question prefix 阿",
    ),
]

SICHUANESE: list[Marker] = [
    *_words(
        STRONG,
        "啥子 咋個 啷個 浪個 巴適 巴實 莫得 龍門陣 瓜娃子 瓜兮兮 幺兒 幺妹 幺爸 幺姑 老漢兒 孃孃 嬢嬢 娃兒 崽兒 細娃兒 "
        "默倒 日白 扯把子 衝殼子 冲壳子 歸一 得行 撇脫 假打 扯拐 打望 哈兒 哈戳戳 神戳戳 瓜戳戳 噻 屋頭 灶房 茅斯 晚黑 晚上黑 "
        "耍朋友 好耍 切耍 鏟鏟 搞錘子 搞鏟鏟 寶器 鬼迷日眼 哦豁 龜兒子 龜兒 格老子 仙人闆闆 仙人板板 不擺了 擺一哈 擺哈兒 "
        "耙耳朵 粑耳朵 醒豁 相因 巴心不得 倒拐 展勁 抻展 緊倒 估倒 曉不得 哪陣 這哈兒 肇皮 背時 遭孽 做爪子 雄起 下細 "
        "一哈兒 等哈兒 黢黑 黢 爪子嘛",
        "Sichuanese word",
    ),
    *_words(
        CLEAR,
        "要得 安逸 老漢 婆娘 腦殼 雄起 鋪蓋 茅廁 小娃兒 女娃子 男娃子 妹兒 弟娃 哥老倌 堂客 這哈 那哈 二天 才將 將將 咋子 "
        "遭不住 整起 整歸一 搞快點 搞快 莫慌 莫得事 洗白了 硬是 過細 跶一跤 拈菜 巴倒 巴到 對頭 嘿多 黑多 凶得很",
        "Sichuanese word",
    ),
    *_words(MEDIUM, "沒得 恁個 錘子 鍋鍋 冒火 惱火 造孽 娃娃 粑粑 抄手 串串", "Sichuanese usage, also elsewhere"),
    *_words(WEAK, "曉得 不曉得 莫 耍 嘞 晏", "shared with other varieties"),
    _rx("X得很 (very)", _VERY_END, MEDIUM, "'very' closing a clause, common in Southwestern Mandarin"),
    _rx(
        "遭 (passive)",
        r"(?<![周一這那兩幾])遭(?!到|受|遇|殃|罪|難|災|劫|逢|際|此|人|厄|致|冷遇|白眼|拒|不住)",
        MEDIUM,
        "遭 as passive 'by'",
    ),
    _rx(
        "V不倒 (cannot)",
        r"(?:吃|做|看|拿|找|買|搞|整|曉|認|想|記|聽|說|寫|用|等|睡|走|跑|掙|要|趕|追|讀|學|賣|借|請)不倒",
        CLEAR,
        "potential 不倒 'cannot'",
    ),
    _rx("倒起 (durative)", r"倒起(?!來)", CLEAR, "durative 倒起"),
    _rx("喃 (question)", r"(?<!喃)喃(?!喃|自)", CLEAR, "question particle 喃"),
    _rx(
        "X头 (inside)",
        r"(?:家|屋|桶|碗|盆|箱|櫃|兜|抽屜|房間|屋子|院子|教室|盒子|瓶子|缸|籠|衣服|褲兒|河|溝|城|鍋|車|包包)頭(?![髮子頂腦等目兒])",
        MEDIUM,
        "頭 as 'inside'",
    ),
    _rx("一坨 (lump)", r"(?:[一兩幾這那哪半])(?:坨|砣)|(?:坨|砣)(?=肉|泥|屎|石頭|錢|飯|冰)", MEDIUM, "classifier 坨"),
    _rx(
        "NN兒 (diminutive)",
        r"(?![慢好悄早遠偷乖靜輕快點])([\u4e00-\u9fff])\1兒",
        MEDIUM,
        "reduplicated diminutive with 兒",
    ),
    _rx(
        "V倒 (durative)",
        r"(?:看|拿|坐|站|守|等|跟|望|聽|想|記|抱|背|提|端|盯|關|開|逮|捏|按|抓|管|遇|找|買|吃|做|搞|整|曉|認|穿|戴|躲|藏|睡|蹲|靠|挨|趴|擋|攔|揣|牽|扶)倒(?![下地塌閉楣霉退置數映賣騰影])",
        MEDIUM,
        "durative or resultative 倒",
    ),
    _rx("嗦 (question)", r"(?<![囉啰哆])嗦(?!嗦)", CLEAR, "question particle 嗦"),
    _rx("哈 (softener)", rf"(?<!哈)(?<![嘻呵])哈{_END}", WEAK, "sentence-final 哈"),
    _rx("一哈 (a bit, all)", r"一哈(?!哈)", MEDIUM, "'a while' or 'all'"),
    _rx("安逸 (great)", rf"安逸(?=[惨得了哦嘛噻啊]|(?:{_END_CHAR}|$))", MEDIUM, "安逸 as 'great'"),
    _rx("要得 (OK)", rf"要得(?=[嘛哦噻哈]|(?:{_END_CHAR}|$))", MEDIUM, "'OK'"),
    _rx("好瓜 (dumb)", r"(?:好|恁|太|有點|真的|莫|硬是|瓜)瓜(?!子|果|分|葛|皮|瓢|藤|田|地|農)", MEDIUM, "瓜 as 'dumb'"),
    _rx("遭 (suffer)", rf"遭(?=不住|打|罵|整|起|惨|慘|了(?:{_END_CHAR}|$))", MEDIUM, "passive or 'be in trouble'"),
    _rx("着 (passive)", r"(?:著|着)(?=打|罵|整|批|罰|騙)", MEDIUM, "着 as passive 'get'"),
    _rx("X惨了 (very)", r"(?:安逸|好|巴適|漂亮|乖|熱|冷|累|餓|氣)慘了", MEDIUM, "慘 as 'extremely'"),
    _rx(
        "V起 (continuing)",
        r"(?:坐|站|蹲|躺|穿|戴|背|抱|拿|提|端|開|關)起(?=走|說|看|吃|耍|做|哭|笑|等)",
        MEDIUM,
        "continuous 起",
    ),
    _rx("耍+X (play)", r"(?:去|出去|切|來)耍|耍(?=手機|遊戲|一哈|哈兒|朋友|得好)", CLEAR, "耍 as 'play'"),
    _rx("擺 (chat)", r"擺(?=一哈|哈兒|龍門陣|玄|條)", CLEAR, "擺 as 'chat'"),
    _rx("梭 (slide, sneak)", r"(?<!穿)梭(?=下|起|邊|了|走|出去|過去|進去|到)", MEDIUM, "梭 as 'slide'"),
    _rx(
        "NN (reduplicated noun)",
        r"(?:蓋蓋|瓶瓶|罐罐|碗碗|刀刀|杯杯|桶桶|棍棍|洞洞|坑坑|角角|邊邊|溝溝|兜兜|根根|簽簽|眼眼|門門|"
        r"窩窩|板板|凳凳|盆盆|盒盒|片片|塊塊|顆顆|渣渣|末末|索索|須須|尖尖|皮皮|殼殼|把把|缸缸|杆杆|坨坨|團團|嘎嘎|湯湯|水水|蟲蟲|"
        r"雀雀|葉葉|巴巴|沫沫|節節|箱箱|櫃櫃|籃籃|襪襪|帕帕|圈圈|包包|袋袋|孔孔|縫縫|印印|疤疤|泡泡兒|珠珠|點點兒|米米|豆豆兒)",
        MEDIUM,
        "reduplicated noun",
    ),
    _rx("X們些 (plural)", r"(?:你們|他們|我們|她們|娃兒|老師|大人|同學|朋友)些", CLEAR, "plural 些"),
    _rx("嘿/黑 (very)", r"(?:嘿|黑)(?=多|好|大|遠|長|貴|凶|安逸|巴適|久|熱|冷|快|難)", MEDIUM, "'very'"),
    _rx("瓜 (final)", rf"(?:好|太|真|硬是)瓜{_END}", MEDIUM, "瓜 as 'dumb'"),
    _rx("勒 (here)", r"勒(?=兒|裡|里|哈|點兒|邊)", MEDIUM, "勒 for 這 'this'"),
    _rx("啥 (what)", r"(?:做|幹|為|搞|說|吃|想|要|有)啥(?!子)", WEAK, "'what'"),
    *_words(
        STRONG,
        "額顱 手杆 手拐子 手倒拐 腳杆 腳板 磕膝頭 肋巴骨 溝子 牙巴 指拇 手指拇 毛根兒 老漢 老者 家公 家婆 幺叔 幺娘 老挑 "
        "奶娃兒 雙雙兒 哥子 兄弟夥 歪人 憨包 哈包 二桿子 寶批龍 爛龍 粉子 雜皮 滾龍 討口子 偷兒 賊娃子 棒客 舵把子 袍哥 跑灘 "
        "雞公 雞婆 豬兒 癩疙寶 丁丁貓 偷油婆 簷老鼠 檐老鼠 曲蟮 蛐蟮 推屎爬 紅苕 海椒 藤藤菜 包穀 苞穀 甑子 背篼 撮箕 洗臉帕 "
        "院壩 壩壩 壩壩舞 壩壩宴 趕場 么店子 幺店子 褂褂 圍腰 擦黑 麻麻亮 往天 一哈哈兒 伸抖 抻抖 閙熱 鬧熱 焦人 欺頭 揀欺頭 日嚼 "
        "涮壇子 散談子 開黃腔 打胡亂說 打整 收撿 搲 㧯 搊 扽 撴 跍 跐 趖 嗍 打平夥 打牙祭 光胴胴 打光胴胴 打光腳板 打甩手 打偏偏 "
        "打脫 打失 打堆 打攏 扯噗鼾 冒皮皮 發夢衝 扯伸 扯筋 裝怪 裝瘋迷竅 放耍 落教 不落教 落屋 捡耙和 撿耙和 耙和 粑和 "
        "稀撇 飛燙 溜酸 撈松 焦苦 拍滿 拍拍滿 憨痴痴 毛焦火辣 假巴意思 彎酸 洋盤 哈數 板眼 一天到黑 隨在 橫順 側邊 邊邊上 角角頭 "
        "將才 二回 驚叫喚 默到 刷把 拐棍兒 煙桿兒 鍋鏟 瓢羹 盆盆兒 罐罐兒 蓋蓋兒",
        "Sichuanese word",
    ),
    *_words(
        CLEAR,
        "洋芋 胡豆 豆花 鹽巴 帕子 褲兒 堂屋 壩子 茶鋪 老火 打爛 扯瘋 裝佯 裝憨 怄死 好怄 哪點 對門子 耿起 搞拐 扯謊 拐了",
        "Sichuanese word, also elsewhere",
    ),
    *_words(MEDIUM, "高頭 耿直 各人 認得", "shared with other varieties"),
    _rx("X儿 (animal)", r"(?:貓|狗|豬|雞|鴨|兔|牛|馬)兒(?![子女童科歌戲])", MEDIUM, "diminutive 兒 on an animal"),
    _rx("诀 (scold)", r"(?<![口秘要妙真訣])訣(?![竅別])", CLEAR, "訣 as 'scold'"),
    _rx("哇 (question)", r"(?:不|沒得|莫得|沒有|得|了|嗎|是|對)哇(?=[?？])", MEDIUM, "question particle 哇"),
    _rx("焦 (worry)", r"(?:莫|好|恁個|不要)焦|焦(?=人|得很|死了|啥子)", CLEAR, "焦 as 'worry'"),
    _rx("怄 (annoyed)", r"慪(?!氣)", CLEAR, "慪 as 'annoyed'"),
    _rx("一爪 (bunch)", r"(?:一|兩|幾)爪(?=香蕉|葡萄|海椒)", STRONG, "classifier 爪"),
    _rx("匹 (flat piece)", r"(?:一|兩|幾|這|那)匹(?=瓦|葉子|紙|葉葉)", CLEAR, "classifier 匹 for flat things"),
    _rx("屙 (excrete)", r"屙(?=屎|尿|稀|痢)", CLEAR, "屙 as 'excrete'"),
    *_words(
        STRONG,
        "搞忘了 搞忘 丟翻 放翻 整翻 認不到 認得到 筲箕 曬席 籮篼 背兜 田坎 河壩 石包 火閃 扯火閃 凌冰 霧罩 太陽壩 "
        "偏東雨 倒拐子 克膝頭 腦門心 陰涼壩",
        "Sichuanese word",
    ),
    *_words(CLEAR, "頸子 饃饃 雷公 喝翻 整不贏", "Sichuanese word, also elsewhere"),
    *_words(WEAK, "泥巴 名堂", "shared with other varieties"),
    _rx(
        "V起 (state kept)",
        r"(?:挺|背|抱|端|穿|戴|提|撐|翹|鼓|張|睜|光|空|餓|歪|偏|斜|側)起(?=個|走|在|耍|吃|睡|跑|哭|笑)",
        MEDIUM,
        "durative 起 'keeping a state while'",
    ),
    _rx("歪 (fierce)", rf"(?:好|恁個|那麼|太)歪(?=[哦噢哈]|得很|{_END_CHAR}|$)", CLEAR, "歪 as 'fierce'"),
    *_words(STRONG, "巴巴適適 安安逸逸 打啵 擺龍門陣", "Sichuanese word"),
    *_words(CLEAR, "得不得 有沒得", "'will or not', 'is there or not'"),
    *_words(MEDIUM, "開腔", "'speak up'"),
    _rx("嘿起/黑起 (hard)", r"(?:嘿|黑)起(?=吃|耍|整|搞|買|跑|喊|罵|哭|笑|做|說)", CLEAR, "'with all one's might'"),
    _rx("妖 (showy)", rf"(?:好|恁個|太)妖(?=[哦噢嘛]|{_END_CHAR}|$)", CLEAR, "妖 as 'showy'"),
    # 北京大学《汉语方言词汇》(1964) via lexibank/beidasinitic, CC BY 4.0: see the file's header.
    *_listed(SURVEY_WORD, "southwestern_beida1964.tsv", "成都 or 昆明 word in 汉语方言词汇 (1964)"),
    # Constructions that descriptions of Southwestern Mandarin grammar list (e.g. the English
    # Wikipedia article "Sichuanese Mandarin", CC BY-SA 4.0, and 王文虎等《四川方言词典》1987):
    # words for 'others', 'arrive', 'deceive', 'go', 'who', the future negation 不得 + V and
    # the potential question V得不.
    *_words(MEDIUM, "别个", "别个 'other people'"),
    *_words(STRONG, "莫来头 抵拢 朗个", "Sichuanese word"),
    _rx("V拢 (arrive)", r"(?:走|跑|开|飞|坐|送|拿|搬|回|快|要|没|莫|还没)拢(?![来住共络总])", CLEAR, "拢 as 'arrive'"),
    _rx("豁 (deceive)", r"(?<![哦豁])豁(?=人|我|你|他|她|别个|老子|了我|了你|了他)", CLEAR, "豁 as 'deceive'"),
    _rx(
        "不得+V (will not)",
        r"不得(?=去|走|死|哭|骂|晓得|信|输|痛|疼|来(?!往))",
        MEDIUM,
        "future negation 不得 'will not'",
    ),
    _rx("切 (go)", r"(?<![一亲迫急密确真关贴])切(?=哪|那儿|那里|屋头|睡|吃饭|上班|上学|街上)", CLEAR, "切 for 去 'go'"),
    _rx("哪个 (who)", r"哪个(?=晓得|喊你|叫你|敢|让你|跟你说)", MEDIUM, "哪个 as 'who'"),
    _rx("V得不 (can V?)", rf"(?<![舍值记懂觉晓认使免])得不(?=[?？嘛哦]|{_END})", MEDIUM, "potential question V得不"),
    _rx("耙 (soft)", rf"(?:好|太|煮|蒸|炖|烧|熬)耙(?=了|得很|哦|{_END_CHAR}|$)", MEDIUM, "耙 as 'soft, tender'"),
    _rx("撇 (poor)", rf"(?:好|太|恁个|有点|真的)撇(?=[哦噢嘛了]|得很|{_END_CHAR}|$)", CLEAR, "撇 as 'poor, weak'"),
    _rx("喊 (ask someone)", r"喊(?:他|她|你|我|人家|娃兒)(?:來|去|過來|回來|吃飯|起來)", CLEAR, "喊 as 'tell, ask to'"),
    _rx("好生 (carefully)", r"好生(?=點|些|走|看|拿|放|坐|聽)", MEDIUM, "'carefully'"),
    _rx("你娃 (you kid)", r"(?:你|這|那)娃(?![娃哈子])", MEDIUM, "娃 as 'kid, fellow'"),
    _rx("搞起 (get going)", r"搞起(?!來)", MEDIUM, "'get on with it'"),
    _rx("着吼 (be scolded)", r"(?:著|着|遭)吼", CLEAR, "吼 as 'scold'"),
]

NORTHEASTERN: list[Marker] = [
    *_words(
        STRONG,
        "嘎哈 咋整 老鼻子 杠杠的 賊拉 嘮嗑 唠嗑 埋汰 磕磣 砢磣 嘚瑟 扯犢子 膈應 膈应 磨嘰 禿嚕 哎呀媽呀 唉呀媽呀 哎媽呀 "
        "那嘎達 這嘎達 嘎達 老嘎達 那旮 這旮 這疙瘩 那疙瘩 哪疙瘩 老妹兒 虎了吧唧 彪呼呼 瞅啥 瞅你咋地 嗯哪 嗯吶 撒麼 踅摸 "
        "埋了吧汰 苞米 大碴子 貓冬 嘎拉哈 波棱蓋 嘚啵 得瑟 老疙瘩 整明白 整不明白",
        "Northeastern word",
    ),
    *_words(
        CLEAR,
        "幹哈 咋地 老鐵 大兄弟 大妹子 老爺們兒 老娘們兒 彪子 嘮嘮 夜個 洋柿子 叨咕 咧咧 瞎白話 能白話 扯哩",
        "Northeastern word",
    ),
    *_words(MEDIUM, "咋的 瞅瞅 爺們兒 娘們兒 磨叽 墨跡 旮旯 老妹 犢子 忽悠", "Northeastern usage, also elsewhere"),
    *_words(WEAK, "瞅 嘮 今兒個 明兒個 昨兒個 前兒個 晌午 炕 咋 俺們 得勁 啥 忒", "northern word, shared"),
    _rx(
        "賊+adj (very)",
        r"賊(?=好|多|大|冷|熱|香|好吃|好看|漂亮|帥|快|慢|貴|便宜|能|有意思|煩|累|難|遠|近|亮|得勁|厲害|逗|美|醜|坑|牛|棒|稀罕|舒服|難受|拉)",
        CLEAR,
        "賊 as 'very'",
    ),
    _rx("嘎嘎+adj (very)", r"嘎嘎(?=好|香|冷|熱|甜|脆|新|猛|帥|棒|好吃|多|的|硬)", CLEAR, "嘎嘎 as 'very'"),
    _rx("嗷嗷+adj (very)", r"嗷嗷(?=好|香|冷|猛|能|快|帥)", CLEAR, "'very'"),
    _rx(
        "老X了 (very)",
        r"老(?:好|厲害|冷|熱|多|大|遠|貴|香|有意思|漂亮|帥|能|快|累|難|高|稀罕|得勁|好吃|好看|帶勁)了",
        MEDIUM,
        "老…了 'very'",
    ),
    _rx(
        "整+X (do)",
        r"整(?=點|倆|兩|一個|一口|啥|明白|這出|那出|事兒|得挺|不了|不會|上了|兩口)",
        MEDIUM,
        "整 as 'do, get'",
    ),
    _rx("削 (beat up)", r"削(?=你|他|她|我|一頓|死)", MEDIUM, "削 as 'beat'"),
    _rx("稀罕 (like)", r"稀罕(?=你|我|他|她|人|得|死|這|那)", MEDIUM, "稀罕 as 'be fond of'"),
    _rx("墨迹 (dawdle)", r"(?:別|太|真|咋這麼|磨磨)(?:墨跡|磨嘰)", CLEAR, "'dawdle'"),
    _rx("彪/虎 (rash, dumb)", r"(?:你|他|她|真|太|有點|賊)(?:彪|虎)(?=了|啊|呀|吧|！|!|呢)", MEDIUM, "'dumb, rash'"),
    _rx("咋地 (so what)", r"咋(?:地|滴)", CLEAR, "'so what, what's up'"),
]

HENAN: list[Marker] = [
    *_words(
        STRONG,
        "弄啥嘞 弄啥哩 幹啥嘞 幹啥哩 說啥嘞 中不中 可中 中嘞 得勁兒 不得勁 可得勁 怪得勁 信球 鱉孫 日能 喝罷湯 吃罷飯 妮兒 小妮兒 "
        "妗子 姥娘 掌櫃嘞 當家嘞 黑價 白兒價 喷空 噴空 不咋著 老鱉一 燴麵 胡辣湯 俺娘 俺爹 咋恁",
        "Henan word",
    ),
    *_words(CLEAR, "得勁 恁 咋著 二球 孬種 夜兒個 不沾 木有 排場", "Henan word"),
    *_words(MEDIUM, "俺 俺們 俺家 弄啥 咋弄 坷垃 圪蹴 不賴", "Central Plains usage"),
    *_words(WEAK, "嘞 哩 咦 晌午 饃 蒸饃 今兒個 明兒個 拾掇 啥 咋 忒", "shared with other northern varieties"),
    _rx("中 (OK)", r"(?:^|(?<=[\s，,。！!？?；;：:]))中(?:[！!。嘞哩啊呀吧]|$)", CLEAR, "中 as 'OK' on its own"),
    _rx(
        "不中 (no good)",
        r"不中(?!用|意|聽|斷|看|標|獎|選|的|國|間|學|文|午|心|央|醫|餐|秋|途|止|獨|外|東|部|華|層)",
        MEDIUM,
        "'no good'",
    ),
    _rx("X嘞 (particle)", r"(?:好|美|中|可|真|啥|咋|恁|俺|來|去|吃|說|看|沒|冇|是|有|走|弄)嘞", MEDIUM, "particle 嘞"),
    _rx("X哩 (particle)", r"(?:好|美|中|可|真|啥|咋|恁|俺|來|去|吃|說|看|是|有|走|弄)哩(?!哩)", MEDIUM, "particle 哩"),
    _rx("怪+adj (quite)", r"怪(?=好|美|得勁|中|排場|熱|冷|疼|可憐|得勁)", WEAK, "怪 as 'quite'"),
    _rx("搁 (put, at)", r"擱(?=這|那|哪|家|屋|桌|床|鍋|碗)", WEAK, "擱 as 'put, at'"),
    _rx("喝汤 (supper)", r"喝湯(?=了|沒|嘞|去|哩)", MEDIUM, "喝湯 as 'have supper'"),
    _rx("V罢 (finished)", r"(?:吃|喝|忙|幹|弄|洗|說)罷(?![了工免課休手官黜])", MEDIUM, "completive 罷"),
    _rx("孬 (bad)", r"孬", MEDIUM, "'bad'"),
]

HUNANESE: list[Marker] = [
    *_words(
        STRONG,
        "麼子 么子 做麼子 搞麼子 恰飯 恰噶 霸蠻 霸得蠻 耐得煩 細伢子 伢崽 妹坨 妹陀 滿哥 滿妹 滿崽 老倌子 娭毑 打流 寶里寶氣 "
        "寶裡寶氣 哈寶 靈泛 拐噠 好恰 恰不得 搞不贏 來不贏 做不贏 駕勢 咯個 咯里 咯裡 咯號 咯些 咯樣 鬼策 麼樣搞 冒得 冇得事",
        "Xiang (Hunanese) word",
    ),
    *_words(CLEAR, "伢子 堂客 老倌 寶氣 唦 何解 呷飯 呷茶 咯是 嗲嗲 韻味得很", "Xiang word"),
    *_words(MEDIUM, "麼得 伢 作孽 冇得 背時", "Xiang usage, also elsewhere"),
    *_words(WEAK, "蠻 日頭 夜飯 姆媽 爹爹 曉得 硬是 冇 腦殼 啰 韻味 耍 咯", "shared with other varieties"),
    _rx("么样 (how)", r"(?<![怎這那什多])麼樣", CLEAR, "'how'; not 怎麼樣"),
    _rx("恰 (eat)", r"恰(?=飯|噶|噠|了|茶|酒|煙|東西|不得|得|麼子|點|個|碗|口|完)", CLEAR, "恰 as 'eat'"),
    _rx("V哒 (aspect)", r"(?<![噠嘀吧叭滴麼么萌美棒])噠(?!噠)", MEDIUM, "aspect particle 噠"),
    _rx(
        "港 (say)",
        r"(?<![香臺台海軍商空漁澳])港(?=麼子|么子|噠|話|咯|得|不|一下|清楚|白話|冇)",
        MEDIUM,
        "港 for 講 'say'",
    ),
    _rx("莫+V (don't)", r"莫(?=港|急|怕|哭|吵|講|搞|走|去|慌|要|著|着|鬧)", WEAK, "莫 as 'don't'"),
    _rx("冒+V (not)", r"冒(?=來|去|吃|恰|看|聽|有|錢|事|搞)", MEDIUM, "冒 for 沒"),
    _rx("鬼+adj (very)", r"鬼(?=冷|熱|多|大|貴|遠|咯)", MEDIUM, "鬼 as 'very'"),
    _rx(
        "扎实+adj (very)",
        r"紮實(?=好|冷|熱|多|大|累|辛苦|漂亮)|扎實(?=好|冷|熱|多|大|累|辛苦|漂亮)",
        CLEAR,
        "扎實 as 'very'",
    ),
    _rx("架势+V (start)", r"架勢(?=恰|吃|搞|做|港|講|哭|笑|下|落)", CLEAR, "架勢 as 'start to'"),
    _rx("X不赢 (no time)", r"(?:搞|來|做|吃|恰|趕|忙|講|港)不贏", STRONG, "'not in time'"),
    _rx("呷 (eat, drink)", r"呷(?=飯|茶|酒|煙|點|口)", CLEAR, "呷 as 'eat, drink'"),
]

SHAANXI: list[Marker] = [
    *_words(
        STRONG,
        "嫑 咥 諞 諞閒傳 額滴 額們 嘹咋咧 嘹扎咧 美滴很 咋咧 麻達 麼麻達 沒麻達 瓜慫 碎慫 碎娃 慫 婆姨 屋裡人 兀個 兀搭 阿搭 "
        "這搭 那搭 乃個 乃搭 年時 一搭裡 日塌 扎勢 日怪 胡成精 言傳 言喘 暮囊 得是 羊肉泡饃 泡饃 肉夾饃 油潑麵 臊子麵 攪團 鍋盔 "
        "biangbiang麵 尕娃",
        "Guanzhong (Shaanxi) word",
    ),
    *_words(CLEAR, "額 嘹 夜來 後晌 一搭 咥麵 咥飯 瓷馬二愣 心疼得很 歪得很 瞎得很", "Shaanxi word"),
    _rx("么 (not)", r"(?<![什怎那這多要])麼(?=事|有|麻達)", CLEAR, "麼 for 沒"),
    *_words(MEDIUM, "圪蹴 二球 涼皮 饃", "Northwestern usage, also elsewhere"),
    _rx("X得很 (very)", _VERY_END, 1.5, "'very' closing a clause"),
    *_words(WEAK, "女子 晌午 啥 咋 弄啥 娃", "shared with other northern varieties"),
    _rx("咧 (final)", rf"(?:去|來|好|走|吃|咥|美|對|完|畢|成|忘|壞|死|知道|曉得|對咧|咋)咧{_END}", CLEAR, "咧 for 了"),
    _rx("額 (I)", r"額(?=是|要|去|滴|的|們|不|也|就|想|給|看|家|大|媽|爸|今|明|昨)", CLEAR, "額 as 'I'"),
    _rx("撒 (what)", r"(?:弄|做|幹|說|咋|為)撒(?!謊|嬌|手|網|氣|野|尿|種|歡|腿|潑)", CLEAR, "撒 for 啥"),
    _rx("克 (go)", r"克(?=哪|兀|阿搭|這搭|屋裡|學校|城裡)", MEDIUM, "克 for 去"),
    _rx("滴 (of)", r"(?:額|你|他|美|好|咋|真|兀)滴(?!水|答|滴|下|落)", MEDIUM, "滴 for 的"),
    _rx("我大 (my father)", r"(?:我|額|你|他|她)(?:大|達)(?=[說叫讓在去回來是呢])", MEDIUM, "大 as 'father'"),
    _rx("嫑 variants", r"(?:不要|甭)(?=言傳|諞)", MEDIUM, "'don't'"),
]

MARKERS: dict[str, list[Marker]] = {
    "普通话": [],
    "四川话": SICHUANESE,
    "粤语": CANTONESE,
    "上海话": SHANGHAINESE,
    "东北话": NORTHEASTERN,
    "河南话": HENAN,
    "湖南话": HUNANESE,
    "陕西话": SHAANXI,
}
"""Markers per label, keyed in LABELS order. Mandarin has none: it is what remains."""

assert tuple(MARKERS) == LABELS, "MARKERS must follow LABELS"


def prompt_marker_table(per_label: int = 8) -> str:
    """A compact table of the strongest literal markers per variety, one line each.

    Meant for an LLM prompt: constructions are shown by their short human label.
    """
    lines = []
    for label in LABELS:
        markers = MARKERS[label]
        if not markers:
            lines.append(f"{label}: no marker words (standard written Chinese)")
            continue
        # Literal words read better in a prompt; prefer them at equal weight.
        ranked = sorted(markers, key=lambda m: (-m.weight, m.is_pattern))
        chosen: list[str] = []
        for marker in ranked:
            # Several spellings of one word collapse to one entry in simplified script.
            shown = to_simplified(marker.text)
            if shown not in chosen:
                chosen.append(shown)
            if len(chosen) == per_label:
                break
        lines.append(f"{label}: {' '.join(chosen)}")
    return "\n".join(lines)
