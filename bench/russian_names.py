"""Russian people and companies with realistic frequencies, for the client-base benchmarks.

Search speed depends on how names are spread: a handful of names (or ``Фамилия12345``)
makes every fragment either match everyone or no one. Here surnames follow the
frequency order of the common Russian surnames (Smirnov about 1.5%, the 250 most common
about a third of people) with a long tail of rarer ones built from real stems; first
names follow their own steep curve; patronymics derive from the male first names; women
carry the feminine forms. A few contacts are a bare first name, a company's switchboard
("Бухгалтерия ..."), or have no patronymic.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass


def _words(text: str) -> list[str]:
    return text.split()


# the most common surnames, most common first (masculine form)
SURNAMES = _words("""
Смирнов Иванов Кузнецов Соколов Попов Лебедев Козлов Новиков Морозов Петров Волков
Соловьёв Васильев Зайцев Павлов Семёнов Голубев Виноградов Богданов Воробьёв Фёдоров
Михайлов Беляев Тарасов Белов Комаров Орлов Киселёв Макаров Андреев Ковалёв Ильин Гусев
Титов Кузьмин Кудрявцев Баранов Куликов Алексеев Степанов Яковлев Сорокин Сергеев
Романов Захаров Борисов Королёв Герасимов Пономарёв Григорьев Лазарев Медведев Ершов
Никитин Соболев Рябов Поляков Цветков Данилов Жуков Фролов Журавлёв Николаев Крылов
Максимов Сидоров Осипов Белоусов Федотов Дорофеев Егоров Матвеев Бобров Дмитриев
Калинин Анисимов Петухов Антонов Тимофеев Никифоров Веселов Филиппов Марков Большаков
Суханов Миронов Ширяев Александров Коновалов Шестаков Казаков Ефимов Денисов Громов
Фомин Давыдов Мельников Щербаков Блинов Колесников Карпов Афанасьев Власов Маслов
Исаков Тихонов Аксёнов Гаврилов Родионов Котов Горбунов Кудряшов Быков Зуев Третьяков
Савельев Панов Рыбаков Суворов Абрамов Воронов Мухин Архипов Трофимов Мартынов
Емельянов Горшков Чернов Овчинников Селезнёв Панфилов Копылов Михеев Галкин Назаров
Лобанов Лукин Беляков Потапов Некрасов Хохлов Жданов Наумов Шилов Воронцов Ермаков
Дроздов Игнатьев Савин Логинов Сафонов Капустин Кириллов Моисеев Елисеев Кошелев
Костин Горбачёв Орехов Ефремов Исаев Евдокимов Калашников Кабанов Носков Юдин Кулагин
Лапин Прохоров Нестеров Харитонов Агафонов Муравьёв Ларионов Федосеев Зимин Пахомов
Шубин Игнатов Филатов Крюков Рогов Кулаков Терентьев Молчанов Владимиров Артемьев
Гурьев Зиновьев Гришин Кононов Дементьев Ситников Симонов Мишин Фадеев Комиссаров
Мамонтов Носов Гуляев Шаров Устинов Вишняков Евсеев Лаврентьев Брагин Константинов
Корнилов Авдеев Зыков Бирюков Шарапов Никонов Щукин Дьячков Одинцов Сазонов Якушев
Красильников Гордеев Самойлов Князев Беспалов Уваров Шашков Бобылёв Доронин Белозёров
Рожков Самсонов Мясников Лихачёв Буров Сысоев Фомичёв Русаков Стрелков Гущин Тетерин
Колобов Субботин Фокин Блохин Селиверстов Пестов Кондратьев Силин Меркушев Лыткин Туров
Шевченко Бондаренко Коваленко Ткаченко Кравченко Мельник Ким Алиев Мамедов Гасанов
Хасанов Абдуллаев Каримов Исмаилов Сафин Галиев Гарипов Ахметов Садыков Закиров
""")

# the long tail: stem + link + ending gives thousands of rarer plausible surnames
TAIL_STEMS = _words("""
Бел Чер Сид Мал Ворон Кос Добр Крас Сер Гол Лис Мед Сол Тих Жар Зел Кол Мор Пол Рус
Свет Стар Хол Шир Ярос Бог Вол Гор Дуб Жил Зуб Кар Лоб Мох Нос Остр Пух Руд Сух
Тар Уш Фил Хром Цар Чуд Шум Щег Юр Ряб Бар Вер Глух Дан Ерм Кудр Лук Мух Пан Рыж
Сав Сор Тер Фед Хар Чиж Шал Бурл Вяз Гриб Жур Клюк Лыс Милослав Прот Слав Тверд Хмел
""")
TAIL_LINKS = ["", "ен", "ик", "ан", "уш", "оч", "ак", "ок", "ич", "ар", "ол", "ищ", "ят"]
TAIL_ENDINGS = ["ов", "ев", "ин", "ский", "цкий", "енко", "ук", "ых", "ской", "ович"]

MALE_NAMES = _words("""
Александр Сергей Дмитрий Андрей Алексей Максим Евгений Иван Михаил Николай Владимир Артём
Денис Павел Роман Игорь Олег Виктор Юрий Антон Илья Никита Кирилл Константин Вадим
Анатолий Василий Пётр Егор Григорий Валерий Геннадий Леонид Станислав Виталий Борис
Георгий Фёдор Тимур Руслан Вячеслав Эдуард Аркадий Степан Матвей Тимофей Даниил Ярослав
Глеб Марк Лев Семён Богдан Арсений Захар Филипп Всеволод Владислав Ростислав Ринат
""")
FEMALE_NAMES = _words("""
Елена Татьяна Ольга Наталья Ирина Светлана Анна Мария Екатерина Юлия Марина Анастасия
Галина Людмила Надежда Валентина Оксана Виктория Дарья Алёна Ксения Евгения Вера Любовь
Лариса Нина Алина Полина Елизавета Кристина Софья Александра Валерия Алла Маргарита
Тамара Жанна Лидия Инна Яна Олеся Диана Вероника Варвара Ангелина Милана Зоя Раиса
Эльвира Регина
""")
# patronymic stems the rules below would get wrong
PATRONYMIC_STEMS = {
    "Лев": "Львов",
    "Пётр": "Петров",
    "Павел": "Павлов",
    "Михаил": "Михайлов",
    "Георгий": "Георгиев",
    "Дмитрий": "Дмитриев",
}
IRREGULAR_PATRONYMICS = {"Илья": ("Ильич", "Ильинична"), "Никита": ("Никитич", "Никитична")}
DEPARTMENTS = ["Бухгалтерия", "Приёмная", "Отдел закупок", "Склад", "Ресепшн", "Офис"]

COMPANY_FORMS = ["ООО"] * 14 + ["АО"] * 2 + ["ПАО", "ЗАО", "ИП"]
COMPANY_ROOTS = _words("""
Север Юг Восток Запад Альфа Бета Гранит Меридиан Вектор Спектр Импульс Горизонт Орион
Сибирь Урал Волга Нева Кедр Берёза Лидер Профи Мега Стандарт Прогресс Росс Мир Эко Техно
Инвест Авто Агро Электро Мед Фарм Транс Логистик Ромашка Лютик Звезда Максимум Старт
Аврора Атлант Байкал Дельта Гамма Континент Квадрат Базис Ресурс Капитал Партнёр
""")
COMPANY_SUFFIXES = [
    *([""] * 6),
    *_words("Строй Сервис Трейд Групп Снаб Торг Пром Маркет Плюс Холдинг Проект Консалт Снабжение"),
]


def _weights(count: int, steepness: float) -> list[float]:
    """Zipf-like: the r-th most common item is r**-steepness as frequent as the first."""
    return [rank**-steepness for rank in range(1, count + 1)]


def _tail() -> list[str]:
    names = [
        s + link + end for s, link, end in itertools.product(TAIL_STEMS, TAIL_LINKS, TAIL_ENDINGS)
    ]
    return sorted(set(names) - set(SURNAMES))


def feminine(surname: str) -> str:
    for ending, female in (("ский", "ская"), ("цкий", "цкая"), ("ской", "ская")):
        if surname.endswith(ending):
            return surname[: -len(ending)] + female
    if surname.endswith(("ов", "ёв", "ев", "ин", "ын")):
        return surname + "а"
    return surname  # -енко, -ук, -ых, Ким: the same for women


def patronymic(father: str, *, female: bool) -> str:
    if father in IRREGULAR_PATRONYMICS:
        return IRREGULAR_PATRONYMICS[father][female]
    stem = PATRONYMIC_STEMS.get(father)
    if stem is None:
        if father.endswith("ий"):
            stem = father[:-2] + "ьев"
        elif father.endswith(("ей", "ай", "ь")):
            stem = father[:-1] + "ев"
        else:
            stem = father + "ов"
    return stem + ("на" if female else "ич")


@dataclass(frozen=True)
class Person:
    last_name: str | None
    first_name: str | None
    middle_name: str | None
    display_name: str | None


class People:
    """A reproducible stream of people and company names."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        tail = _tail()
        # the listed surnames cover about a third of people, the tail the rest
        listed = [w * 0.015 for w in _weights(len(SURNAMES), 0.6)]
        rest = (1 - sum(listed)) / len(tail)
        self._surnames = [*SURNAMES, *tail]
        self._surname_cum = list(itertools.accumulate([*listed, *[rest] * len(tail)]))
        self._male_cum = list(itertools.accumulate(_weights(len(MALE_NAMES), 0.9)))
        self._female_cum = list(itertools.accumulate(_weights(len(FEMALE_NAMES), 0.9)))
        self.surname_count = len(self._surnames)

    def _pick(self, items: list[str], cumulative: list[float]) -> str:
        return self.rng.choices(items, cum_weights=cumulative)[0]

    def person(self, company: str | None = None) -> Person:
        roll = self.rng.random()
        if company and roll < 0.02:
            return Person(None, None, None, f"{self.rng.choice(DEPARTMENTS)} {company}")
        female = self.rng.random() < 0.55
        first = self._pick(
            *((FEMALE_NAMES, self._female_cum) if female else (MALE_NAMES, self._male_cum))
        )
        if roll < 0.04:
            return Person(None, first, None, None)
        surname = self._pick(self._surnames, self._surname_cum)
        last = feminine(surname) if female else surname
        if roll < 0.20:
            return Person(last, first, None, None)
        father = self._pick(MALE_NAMES, self._male_cum)
        return Person(last, first, patronymic(father, female=female), None)

    def company(self) -> str:
        form = self.rng.choice(COMPANY_FORMS)
        if form == "ИП":
            p = self.person()
            initials = "".join(f" {n[0]}." for n in (p.first_name, p.middle_name) if n)
            return f"ИП {p.last_name or 'Иванов'}{initials}"
        name = self.rng.choice(COMPANY_ROOTS) + self.rng.choice(COMPANY_SUFFIXES)
        if self.rng.random() < 0.3:
            name += f"-{self.rng.randrange(1, 100)}"
        return f"{form} «{name}»"
