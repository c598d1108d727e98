"""Reference tables for location keys: ISO 3166-1 country codes and U.S. state abbreviations.

Meta wants COUNTRY as a lower-case ISO 3166-1 alpha-2 code and ST, for the U.S., as the 2-letter
ANSI (USPS) abbreviation, lower case
(https://developers.facebook.com/docs/marketing-api/audiences/guides/custom-audiences#hash).
Warehouses often hold alpha-3 codes or full state names, so both are translated here. Country
codes come from ISO 3166-1 (https://www.iso.org/iso-3166-country-codes.html, as published in
Debian's iso-codes); state codes from USPS Publication 28, appendix B
(https://pe.usps.com/text/pub28/28apb.htm).
"""

from __future__ import annotations


def _words(*lines: str) -> list[str]:
    return " ".join(lines).split()


COUNTRIES: frozenset[str] = frozenset(
    _words(
        "ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bl bm bn bo bq br bs",
        "bt bv bw by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee",
        "eg eh er es et fi fj fk fm fo fr ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm",
        "hn hr ht hu id ie il im in io iq ir is it je jm jo jp ke kg kh ki km kn kp kr kw ky kz la lb lc",
        "li lk lr ls lt lu lv ly ma mc md me mf mg mh mk ml mm mn mo mp mq mr ms mt mu mv mw mx my mz na",
        "nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr ps pt pw py qa re ro rs ru rw",
        "sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st sv sx sy sz tc td tf tg th tj tk tl tm tn to",
        "tr tt tv tw tz ua ug um us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw",
    )
)

# alpha-3 code followed by its alpha-2 code: "usaus" -> usa = us.
ALPHA3_TO_ALPHA2: dict[str, str] = {
    pair[:3]: pair[3:]
    for pair in _words(
        "abwaw afgaf agoao aiaai alaax albal andad areae argar armam asmas ataaq atftf atgag ausau autat",
        "azeaz bdibi belbe benbj besbq bfabf bgdbd bgrbg bhrbh bhsbs bihba blmbl blrby blzbz bmubm bolbo",
        "brabr brbbb brnbn btnbt bvtbv bwabw cafcf canca cckcc chech chlcl chncn civci cmrcm codcd cogcg",
        "cokck colco comkm cpvcv cricr cubcu cuwcw cxrcx cymky cypcy czecz deude djidj dmadm dnkdk domdo",
        "dzadz ecuec egyeg erier esheh espes estee ethet finfi fjifj flkfk frafr frofo fsmfm gabga gbrgb",
        "geoge ggygg ghagh gibgi gingn glpgp gmbgm gnbgw gnqgq grcgr grdgd grlgl gtmgt gufgf gumgu guygy",
        "hkghk hmdhm hndhn hrvhr htiht hunhu idnid imnim indin iotio irlie irnir irqiq islis isril itait",
        "jamjm jeyje jorjo jpnjp kazkz kenke kgzkg khmkh kirki knakn korkr kwtkw laola lbnlb lbrlr lbyly",
        "lcalc lieli lkalk lsols ltult luxlu lvalv macmo mafmf marma mcomc mdamd mdgmg mdvmv mexmx mhlmh",
        "mkdmk mliml mltmt mmrmm mneme mngmn mnpmp mozmz mrtmr msrms mtqmq musmu mwimw mysmy mytyt namna",
        "nclnc nerne nfknf ngang nicni niunu nldnl norno nplnp nrunr nzlnz omnom pakpk panpa pcnpn perpe",
        "phlph plwpw pngpg polpl pripr prkkp prtpt prypy pseps pyfpf qatqa reure rouro rusru rwarw sausa",
        "sdnsd sensn sgpsg sgsgs shnsh sjmsj slbsb slesl slvsv smrsm somso spmpm srbrs ssdss stpst sursr",
        "svksk svnsi swese swzsz sxmsx sycsc syrsy tcatc tcdtd tgotg thath tjktj tkltk tkmtm tlstl tonto",
        "ttott tuntn turtr tuvtv twntw tzatz ugaug ukrua umium uryuy usaus uzbuz vatva vctvc venve vgbvg",
        "virvi vnmvn vutvu wlfwf wsmws yemye zafza zmbzm zwezw",
    )
}
# Names people use for a country code that ISO spells otherwise.
COUNTRY_ALIASES: dict[str, str] = {"uk": "gb"}

# Full names (lower case, letters only) of the states, districts, territories and military "states"
# with a USPS abbreviation.
US_STATE_NAMES: dict[str, str] = dict(
    item.split(":")
    for item in _words(
        "alabama:al alaska:ak arizona:az arkansas:ar california:ca colorado:co connecticut:ct delaware:de",
        "districtofcolumbia:dc florida:fl georgia:ga hawaii:hi idaho:id illinois:il indiana:in iowa:ia",
        "kansas:ks kentucky:ky louisiana:la maine:me maryland:md massachusetts:ma michigan:mi",
        "minnesota:mn mississippi:ms missouri:mo montana:mt nebraska:ne nevada:nv newhampshire:nh",
        "newjersey:nj newmexico:nm newyork:ny northcarolina:nc northdakota:nd ohio:oh oklahoma:ok",
        "oregon:or pennsylvania:pa rhodeisland:ri southcarolina:sc southdakota:sd tennessee:tn texas:tx",
        "utah:ut vermont:vt virginia:va washington:wa westvirginia:wv wisconsin:wi wyoming:wy",
        "americansamoa:as guam:gu northernmarianaislands:mp puertorico:pr virginislands:vi",
        "usvirginislands:vi unitedstatesvirginislands:vi unitedstatesminoroutlyingislands:um",
        "armedforcesamericas:aa armedforceseurope:ae armedforcespacific:ap",
    )
)
US_STATE_CODES: frozenset[str] = frozenset(US_STATE_NAMES.values())
