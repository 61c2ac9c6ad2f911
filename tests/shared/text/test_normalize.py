"""Chinese normalisation: what a reader says for digits, dates, money and units."""

import re

import pytest

from shared.text.normalize import digits_to_zh, int_to_zh, normalize_zh, number_to_zh, without_erhua


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "零"),
        (2, "二"),
        (10, "十"),
        (15, "十五"),
        (20, "二十"),
        (101, "一百零一"),
        (110, "一百一十"),
        (115, "一百一十五"),
        (1001, "一千零一"),
        (1010, "一千零一十"),
        (1234, "一千二百三十四"),
        (2000, "两千"),
        (2500, "两千五百"),
        (10_000, "一万"),
        (10_010, "一万零一十"),
        (101_000, "十万零一千"),
        (150_000, "十五万"),
        (1_001_000, "一百万零一千"),
        (100_000_001, "一亿零一"),
        (100_010_000, "一亿零一万"),
        (123_456_789, "一亿二千三百四十五万六千七百八十九"),
        (-5, "负五"),
    ],
)
def test_integers_are_read_with_place_words(n: int, words: str) -> None:
    assert int_to_zh(n) == words


def test_decimals_read_their_fraction_digit_by_digit() -> None:
    assert number_to_zh("3", "14") == "三点一四"
    assert number_to_zh("0", "05") == "零点零五"
    assert number_to_zh("007") == "零零七"
    assert digits_to_zh("110", phone=True) == "幺幺零"


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        # numbers, signs, ranges
        ("3.5", "三点五"),
        ("0", "零"),
        ("-5", "负五"),
        ("-0.5", "负零点五"),
        ("1,234,567", "一百二十三万四千五百六十七"),
        ("3-5个", "三到五个"),
        ("第1-3章", "第一到三章"),
        ("气温-3~5℃", "气温负三到五摄氏度"),
        ("１２３", "一百二十三"),
        ("3/4", "四分之三"),
        # 两 where it is natural, 二 where it is not
        ("2个苹果", "两个苹果"),
        ("一共2万人", "一共两万人"),
        ("2kg", "两千克"),
        ("第2名", "第二名"),
        ("2月", "二月"),
        ("2号", "二号"),
        # percentages
        ("50%", "百分之五十"),
        ("涨幅12.5%", "涨幅百分之十二点五"),
        ("-2%", "负百分之二"),
        ("10%-20%", "百分之十到百分之二十"),
        ("10-20%", "百分之十到百分之二十"),
        ("3‰", "千分之三"),
        # dates
        ("2024年3月5日", "二零二四年三月五日"),
        ("2024-03-05", "二零二四年三月五日"),
        ("2024/3/5", "二零二四年三月五日"),
        ("2024.03.05", "二零二四年三月五日"),
        ("2024/3", "二零二四年三月"),
        ("2020-2024年", "二零二零到二零二四年"),
        ("2024年-2025年", "二零二四年到二零二五年"),
        ("90年代", "九零年代"),
        ("80后", "八零后"),
        ("10年", "十年"),
        # times and scores
        ("10:30", "十点三十分"),
        ("10:05", "十点零五分"),
        ("10:00", "十点"),
        ("2:00", "两点"),
        ("10:30:15", "十点三十分十五秒"),
        ("10:00-12:00", "十点到十二点"),
        ("比分3:2", "比分三比二"),
        # money
        ("¥12.50", "十二元五角"),
        ("¥12.05", "十二元零五分"),
        ("￥0.5", "五角"),
        ("¥100", "一百元"),
        ("¥1.5万", "一点五万元"),
        ("12.5元", "十二点五元"),
        ("$3", "三美元"),
        ("$3.99", "三点九九美元"),
        ("€5", "五欧元"),
        # units
        ("5km", "五公里"),
        ("3 kg", "三千克"),
        ("30℃", "三十摄氏度"),
        ("30°C", "三十摄氏度"),
        ("100m²", "一百平方米"),
        ("60km/h", "六十公里每小时"),
        ("5mm", "五毫米"),
        ("5min", "五分钟"),
        # phone numbers and identifiers, digit by digit with 幺
        ("13812345678", "幺三八幺二三四五六七八"),
        ("+86 138-1234-5678", "加八六 幺三八 幺二三四 五六七八"),
        ("电话：010-12345678", "电话：零幺零 幺二三四五六七八"),
        ("400-800-1234", "四零零 八零零 幺二三四"),
        ("拨打110", "拨打幺幺零"),
        ("验证码 123456", "验证码 幺二三四五六"),
        ("身份证110101199003071234", "身份证一一零一零一一九九零零三零七一二三四"),
        # digits among letters
        ("G20峰会", "G二十峰会"),
        ("5G网络", "五G网络"),
        ("版本1.2.3", "版本一点二点三"),
    ],
)
def test_normalize_zh_says_what_a_reader_says(text: str, spoken: str) -> None:
    assert normalize_zh(text) == spoken


def test_a_sentence_mixing_everything() -> None:
    text = "2024年3月5日10:30，气温-3~5℃，涨幅12.5%，售价¥12.50，咨询电话13812345678。"
    assert normalize_zh(text) == (
        "二零二四年三月五日十点三十分，气温负三到五摄氏度，涨幅百分之十二点五，"
        "售价十二元五角，咨询电话幺三八幺二三四五六七八。"
    )


def test_text_without_digits_is_returned_unchanged() -> None:
    text = "今天天气很好：我们去公园吧！"
    assert normalize_zh(text) is text


def test_no_ascii_digit_and_no_internal_mark_survives() -> None:
    text = "v1.2 3-5 10:00 ¥9.99 2024-13-45 1e5 0x1F 12:99 A-1 -- 99%% 3.5.6.7"
    out = normalize_zh(text)
    assert not re.search(r"[0-9\ue000\ue001]", out), out


def test_normalisation_is_idempotent() -> None:
    text = "2024年3月5日10:30，¥12.50，50%，5km"
    once = normalize_zh(text)
    assert normalize_zh(once) == once


# Sentences from WeTextProcessing's own test data (tn/chinese/test/data/normalizer.txt), with what
# this normaliser says. Where the two differ, this one reads money as people say it (十三元五角,
# not 十三点五元) and a telephone's 1 as 幺, as call centres do.
LIBRARY_CASES = [
    ("共465篇，约315万字", "共四百六十五篇，约三百一十五万字"),
    ("共计6.42万人", "共计六点四二万人"),
    ("同比升高0.6个百分点", "同比升高零点六个百分点"),
    ("总量的1/5以上", "总量的五分之一以上"),
    ("相当于头发丝的1/16", "相当于头发丝的十六分之一"),
    ("3/2是一个假分数", "二分之三是一个假分数"),
    ("同比增长6.3%", "同比增长百分之六点三"),
    ("增幅0.4%", "增幅百分之零点四"),
    ("2002/01/28", "二零零二年一月二十八日"),
    ("2002-01-28", "二零零二年一月二十八日"),
    ("2002.01.28", "二零零二年一月二十八日"),
    ("2002/01", "二零零二年一月"),
    ("8月16号12:00之前", "八月十六号十二点之前"),
    ("我是5:02开始的", "我是五点零二分开始的"),
    ("于5:35:36发射", "于五点三十五分三十六秒发射"),
    ("比分定格在78:96", "比分定格在七十八比九十六"),
    ("计算-2的绝对值是2", "计算负二的绝对值是二"),
    ("±2的平方都是4", "正负二的平方都是四"),
    ("价格是￥13.5", "价格是十三元五角"),
    ("价格是$13.5", "价格是十三点五美元"),
    ("重达25kg", "重达二十五千克"),
    ("最高气温38°C", "最高气温三十八摄氏度"),
    ("实际面积120m²", "实际面积一百二十平方米"),
    ("渲染速度10ms一帧", "渲染速度十毫秒一帧"),
    ("可以打我手机13501234567", "可以打我手机幺三五零幺二三四五六七"),
    ("可以拨打12306来咨询", "可以拨打幺二三零六来咨询"),
]

# What a call centre or a book's front matter says: identifiers digit by digit, never as amounts
# or ranges; English left to an English voice.
CONTEXT_CASES = [
    ("ISBN:9787201078335", "ISBN:九七八七二零幺零七八三三五"),
    ("ISBN 978-7-107-25952-4", "ISBN 九七八 七 幺零七 二五九五二 四"),
    ("ISBN 7-5327-1234-X", "ISBN 七 五三二七 幺二三四 X"),
    ("书号978-7-107-25952-4", "书号九七八 七 幺零七 二五九五二 四"),
    ("电话707-829-0515", "电话七零七 八二九 零五幺五"),
    ("请拨707-829-0515", "请拨七零七 八二九 零五幺五"),
    ("邮编95472", "邮编九五四七二"),
    ("邮政编码100871", "邮政编码幺零零八七幺"),
    ("您的订单号1234567890已发货", "您的订单号幺二三四五六七八九零已发货"),
    ("快递单号SF1234567890", "快递单号SF幺二三四五六七八九零"),
    ("身份证号11010519491231002X", "身份证号幺幺零幺零五幺九四九幺二三幺零零二X"),
    ("验证码是4096", "验证码是四零九六"),
    ("网址是www.example.com/20111011/", "网址是www.example.com/二零一一一零一一/"),
    ("发邮件到a2024@qq.com", "发邮件到a二零二四@qq.com"),
    ("客服热线400-800-1234", "客服热线四零零 八零零 幺二三四"),
    ("本月账单¥1,234.50，请于3月5日前还款", "本月账单一千二百三十四元五角，请于三月五日前还款"),
    ("In chapters 24, 89", "In chapters 24, 89"),
    ("Chapter 1.", "Chapter 1."),
    ("10-20公斤", "十到二十公斤"),
    ("300-500元", "三百到五百元"),
    ("25:00开始", "二十五比零开始"),
]


@pytest.mark.parametrize(("text", "spoken"), LIBRARY_CASES + CONTEXT_CASES)
def test_numbers_are_read_by_what_they_are(text: str, spoken: str) -> None:
    assert normalize_zh(text) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("这儿有只鸟儿", "这有只鸟"),  # WeTextProcessing's test data
        ("这事儿好办", "这事好办"),
        ("我儿子喜欢这地儿", "我儿子喜欢这地"),
        ("租金贵一点儿没关系", "租金贵一点没关系"),
        ("那兒有一家很老的茶館。", "那有一家很老的茶館。"),
        ("女儿和婴儿在托儿所", "女儿和婴儿在托儿所"),
        ("儿童节", "儿童节"),
    ],
)
def test_erhua_is_left_out_where_it_is_an_r(text: str, spoken: str) -> None:
    assert without_erhua(text) == spoken
