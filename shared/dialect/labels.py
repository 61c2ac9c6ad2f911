"""The eight varieties VoxQueue identifies, in a fixed order used everywhere (reports, prompts)."""

MANDARIN = "普通话"
LABELS: tuple[str, ...] = (MANDARIN, "四川话", "粤语", "上海话", "东北话", "河南话", "湖南话", "陕西话")
