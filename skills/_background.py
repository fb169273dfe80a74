"""What asking for no skill looks like: everyday questions and small talk, in English and Japanese.

The example model (`skills._examples`) treats these as one more class. A prompt nearest to them gains no
skill; and a word that everyday talk shares with a skill's examples ("new", "day", "教えて") weighs less,
because the model's IDF sees it in both.
"""

from __future__ import annotations

NO_SKILL = "none"

BACKGROUND: tuple[str, ...] = (
    "What's the weather going to be like this weekend?",
    "How many grams are in a pound?",
    "Tell me a fun fact about octopuses.",
    "What year did the Berlin Wall fall?",
    "Who is the author of One Hundred Years of Solitude?",
    "What's 12 times 19?",
    "How do you pronounce 'quinoa'?",
    "Recommend a good book for a long flight.",
    "What's the capital of Canada?",
    "Is it safe to eat raw cookie dough?",
    "How long does it take to boil pasta?",
    "What time does the sun set today?",
    "Translate 'thank you very much' into Spanish.",
    "What does 'serendipity' mean?",
    "How do I convert Celsius to Fahrenheit?",
    "Tell me a joke.",
    "Good morning! How are you?",
    "What's the difference between a virus and a bacterium?",
    "How many days until my birthday on June 3?",
    "Which is bigger, a blue whale or a megalodon?",
    "Suggest a name for my new puppy.",
    "I bought a new bike today.",
    "My cat knocked over a plant this morning.",
    "Thanks, that's helpful.",
    "What's a good movie for a rainy evening?",
    "How tall is Mount Everest?",
    "Who won the Oscar for best picture last year?",
    "What's 30% off $45?",
    "Can you recommend a board game for four players?",
    "What rhymes with orange?",
    "今日の天気を教えて。",
    "1キロは何グラム？",
    "タコについて面白い豆知識を教えて。",
    "ベルリンの壁が崩れたのは何年？",
    "12かける19は？",
    "東京タワーの高さは？",
    "長いフライトにおすすめの本は？",
    "カナダの首都はどこ？",
    "パスタは何分ゆでればいい？",
    "「ありがとう」を英語で言うと？",
    "この言葉の意味を教えて:一期一会",
    "摂氏を華氏に変換するには？",
    "おはよう！元気？",
    "ウイルスと細菌の違いは何？",
    "新しい子犬の名前を考えて。",
    "今日、新しい自転車を買ったよ。",
    "雨の夜に観る映画のおすすめある？",
    "4人で遊べるボードゲームを教えて。",
    "今週末は晴れるかな？",
    "コーヒーは一日何杯までなら大丈夫？",
)
