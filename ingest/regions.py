"""Chinese province and prefecture-level city names, so chunks can carry the region they talk about.

Simplified names, plus the traditional spellings (forum pages such as 004 are written in traditional
characters) mapped back to the simplified name we report.
"""

from __future__ import annotations

import re


def _words(block: str) -> tuple[str, ...]:
    return tuple(block.split())


# Province-level names without the 省/自治区 suffix; municipalities are listed with the cities.
PROVINCES = _words(
    """
    河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南
    广东 海南 四川 贵州 云南 陕西 甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆
    香港 澳门
    """
)

# Prefecture-level cities (and a few county-level ones that run their own 医保), one province a line.
# Left out on purpose: names that are also everyday words (来宾, 阿里) and 海南 the prefecture.
CITIES = _words(
    """
    北京 天津 上海 重庆
    石家庄 唐山 秦皇岛 邯郸 邢台 保定 张家口 承德 沧州 廊坊 衡水
    太原 大同 阳泉 长治 晋城 朔州 晋中 运城 忻州 临汾 吕梁
    呼和浩特 包头 乌海 赤峰 通辽 鄂尔多斯 呼伦贝尔 巴彦淖尔 乌兰察布
    沈阳 大连 鞍山 抚顺 本溪 丹东 锦州 营口 阜新 辽阳 盘锦 铁岭 朝阳 葫芦岛
    长春 四平 辽源 通化 白山 松原 白城 延边
    哈尔滨 齐齐哈尔 鸡西 鹤岗 双鸭山 大庆 伊春 佳木斯 七台河 牡丹江 黑河 绥化
    大兴安岭
    南京 无锡 徐州 常州 苏州 南通 连云港 淮安 盐城 扬州 镇江 泰州 宿迁
    杭州 宁波 温州 嘉兴 湖州 绍兴 金华 衢州 舟山 台州 丽水
    合肥 芜湖 蚌埠 淮南 马鞍山 淮北 铜陵 安庆 黄山 滁州 阜阳 宿州 六安 亳州
    池州 宣城
    福州 厦门 莆田 三明 泉州 漳州 南平 龙岩 宁德
    南昌 景德镇 萍乡 九江 新余 鹰潭 赣州 吉安 宜春 抚州 上饶
    济南 青岛 淄博 枣庄 东营 烟台 潍坊 济宁 泰安 威海 日照 临沂 德州 聊城 滨州
    菏泽
    郑州 开封 洛阳 平顶山 安阳 鹤壁 新乡 焦作 濮阳 许昌 漯河 三门峡 南阳 商丘
    信阳 周口 驻马店 济源
    武汉 黄石 十堰 宜昌 襄阳 鄂州 荆门 孝感 荆州 黄冈 咸宁 随州 恩施 仙桃 潜江
    天门
    长沙 株洲 湘潭 衡阳 邵阳 岳阳 常德 张家界 益阳 郴州 永州 怀化 娄底 湘西
    广州 韶关 深圳 珠海 汕头 佛山 江门 湛江 茂名 肇庆 惠州 梅州 汕尾 河源 阳江
    清远 东莞 中山 潮州 揭阳 云浮
    南宁 柳州 桂林 梧州 北海 防城港 钦州 贵港 玉林 百色 贺州 河池 崇左
    海口 三亚 三沙 儋州
    成都 自贡 攀枝花 泸州 德阳 绵阳 广元 遂宁 内江 乐山 南充 眉山 宜宾 广安
    达州 雅安 巴中 资阳 阿坝 甘孜 凉山
    贵阳 六盘水 遵义 安顺 毕节 铜仁 黔东南 黔南 黔西南
    昆明 曲靖 玉溪 保山 昭通 丽江 普洱 临沧 楚雄 红河 文山 西双版纳 大理 德宏
    怒江 迪庆
    拉萨 日喀则 昌都 林芝 山南 那曲
    西安 铜川 宝鸡 咸阳 渭南 延安 汉中 榆林 安康 商洛
    兰州 嘉峪关 金昌 白银 天水 武威 张掖 平凉 酒泉 庆阳 定西 陇南 临夏 甘南
    西宁 海东 果洛 玉树 海西
    银川 石嘴山 吴忠 固原 中卫
    乌鲁木齐 克拉玛依 吐鲁番 哈密 昌吉 阿克苏 喀什 和田 伊犁 塔城 阿勒泰 石河子
    """
)

# Traditional spelling → simplified name, for the names whose spelling differs.
TRADITIONAL: dict[str, str] = dict(
    pair.split("=")
    for pair in _words(
        """
        遼寧=辽宁 黑龍江=黑龙江 江蘇=江苏 山東=山东 廣東=广东 貴州=贵州 雲南=云南
        陝西=陕西 甘肅=甘肃 臺灣=台湾 內蒙古=内蒙古 廣西=广西 寧夏=宁夏 澳門=澳门
        重慶=重庆 石家莊=石家庄 秦皇島=秦皇岛 邯鄲=邯郸 邢臺=邢台 張家口=张家口
        滄州=沧州 陽泉=阳泉 長治=长治 晉城=晋城 晉中=晋中 運城=运城 臨汾=临汾
        呂梁=吕梁 包頭=包头 烏海=乌海 通遼=通辽 鄂爾多斯=鄂尔多斯 呼倫貝爾=呼伦贝尔
        巴彥淖爾=巴彦淖尔 烏蘭察布=乌兰察布 瀋陽=沈阳 沈陽=沈阳 大連=大连 撫順=抚顺 丹東=丹东
        錦州=锦州 營口=营口 遼陽=辽阳 盤錦=盘锦 鐵嶺=铁岭 朝陽=朝阳 葫蘆島=葫芦岛
        長春=长春 遼源=辽源 延邊=延边 哈爾濱=哈尔滨 齊齊哈爾=齐齐哈尔 雞西=鸡西
        鶴崗=鹤岗 雙鴨山=双鸭山 大慶=大庆 七臺河=七台河 綏化=绥化 大興安嶺=大兴安岭
        無錫=无锡 蘇州=苏州 連雲港=连云港 鹽城=盐城 揚州=扬州 鎮江=镇江 宿遷=宿迁
        寧波=宁波 溫州=温州 嘉興=嘉兴 紹興=绍兴 金華=金华 麗水=丽水 蕪湖=芜湖
        馬鞍山=马鞍山 銅陵=铜陵 安慶=安庆 黃山=黄山 阜陽=阜阳 廈門=厦门 龍巖=龙岩
        寧德=宁德 景德鎮=景德镇 萍鄉=萍乡 新餘=新余 鷹潭=鹰潭 贛州=赣州 撫州=抚州
        上饒=上饶 濟南=济南 青島=青岛 棗莊=枣庄 東營=东营 煙臺=烟台 濰坊=潍坊
        濟寧=济宁 臨沂=临沂 濱州=滨州 菏澤=菏泽 鄭州=郑州 開封=开封 洛陽=洛阳
        平頂山=平顶山 安陽=安阳 鶴壁=鹤壁 新鄉=新乡 濮陽=濮阳 許昌=许昌
        三門峽=三门峡 南陽=南阳 信陽=信阳 駐馬店=驻马店 濟源=济源 武漢=武汉
        黃石=黄石 襄陽=襄阳 荊門=荆门 荊州=荆州 黃岡=黄冈 咸寧=咸宁 隨州=随州
        潛江=潜江 天門=天门 長沙=长沙 衡陽=衡阳 邵陽=邵阳 岳陽=岳阳 張家界=张家界
        益陽=益阳 懷化=怀化 婁底=娄底 廣州=广州 韶關=韶关 汕頭=汕头 江門=江门
        肇慶=肇庆 陽江=阳江 清遠=清远 東莞=东莞 揭陽=揭阳 雲浮=云浮 南寧=南宁
        欽州=钦州 貴港=贵港 賀州=贺州 三亞=三亚 自貢=自贡 瀘州=泸州 德陽=德阳
        綿陽=绵阳 廣元=广元 遂寧=遂宁 內江=内江 樂山=乐山 宜賓=宜宾 廣安=广安
        達州=达州 資陽=资阳 阿壩=阿坝 涼山=凉山 貴陽=贵阳 六盤水=六盘水 遵義=遵义
        安順=安顺 畢節=毕节 銅仁=铜仁 黔東南=黔东南 麗江=丽江 臨滄=临沧 紅河=红河
        西雙版納=西双版纳 迪慶=迪庆 拉薩=拉萨 日喀則=日喀则 銅川=铜川 寶雞=宝鸡
        咸陽=咸阳 漢中=汉中 蘭州=兰州 嘉峪關=嘉峪关 白銀=白银 張掖=张掖 平涼=平凉
        慶陽=庆阳 隴南=陇南 臨夏=临夏 西寧=西宁 海東=海东 玉樹=玉树 銀川=银川
        吳忠=吴忠 中衛=中卫 烏魯木齊=乌鲁木齐 克拉瑪依=克拉玛依 吐魯番=吐鲁番
        阿克蘇=阿克苏 台灣=台湾 煙台=烟台 龍岩=龙岩
        """
    )
)

_CANONICAL: dict[str, str] = {name: name for name in (*PROVINCES, *CITIES)} | TRADITIONAL
_CITY_NAMES = frozenset(CITIES)
# Longest names first so 「黑龙江」 is not read as something shorter inside it.
_NAME_PATTERN = re.compile("|".join(sorted(map(re.escape, _CANONICAL), key=len, reverse=True)))


def find_region(text: str) -> str | None:
    """The most specific place ``text`` names (a city beats its province), in simplified form."""
    found = [_CANONICAL[match.group()] for match in _NAME_PATTERN.finditer(text)]
    cities = [name for name in found if name in _CITY_NAMES]
    return (cities or found or [None])[0]
