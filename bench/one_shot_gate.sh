#!/usr/bin/env bash
# The one-shot gate through the command line, on a split that bench/one_shot.py made: the people in RUN/train-people
# trained the encoder; of the others (sorted by name), the first 15 are enrolled with their first image and the
# rest are strangers. τ is calibrated on the training people at FAR $TARGET_FAR (1e-3 by default) and stored with the gallery; `recognize`
# then runs on every other image and the script counts names, wrong names and unknowns.
#
#   bash bench/one_shot_gate.sh bench-output/oneshot-att-white/seed0 ../shared/data/att_faces
set -euo pipefail
RUN=${1:?a seed folder written by bench/one_shot.py}
DATA=${2:?the face folder it split}
ENROLLED=${ENROLLED:-15}
TARGET_FAR=${TARGET_FAR:-1e-3}
LOOKALIKE=${LOOKALIKE:-.venv/bin/lookalike}
WORK=$RUN/gate
rm -rf "$WORK" && mkdir -p "$WORK/people" "$WORK/known" "$WORK/strangers"

people() { find "$1" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | LC_ALL=C sort; }
mapfile -t EVAL < <(LC_ALL=C comm -23 <(people "$DATA") <(people "$RUN/train-people"))
for i in "${!EVAL[@]}"; do
    person=${EVAL[$i]}
    mapfile -t files < <(ls "$DATA/$person" | LC_ALL=C sort)
    if (( i < ENROLLED )); then
        mkdir -p "$WORK/people/$person" "$WORK/known/$person"
        ln -s "$(realpath "$DATA/$person/${files[0]}")" "$WORK/people/$person/${files[0]}"
        for f in "${files[@]:1}"; do ln -s "$(realpath "$DATA/$person/$f")" "$WORK/known/$person/$f"; done
    else
        mkdir -p "$WORK/strangers/$person"
        for f in "${files[@]}"; do ln -s "$(realpath "$DATA/$person/$f")" "$WORK/strangers/$person/$f"; done
    fi
done

$LOOKALIKE enroll "$WORK/people" --gallery "$WORK/gallery" --model "$RUN/model-whitened"
$LOOKALIKE calibrate "$RUN/train-people" --gallery "$WORK/gallery" --target-far "$TARGET_FAR"
$LOOKALIKE recognize "$WORK/known" --gallery "$WORK/gallery" > "$WORK/known.csv"
$LOOKALIKE recognize "$WORK/strangers" --gallery "$WORK/gallery" > "$WORK/strangers.csv"

# known.csv lines are file,identity,distance; a file's person is its folder's name.
awk -F, 'NR > 1 { n++; split($1, part, "/"); person = part[length(part) - 1]
                  if ($2 == person) right++; else if ($2 == "unknown") unknown++; else wrong++ }
         END { printf "enrolled people: %d images, %d named right, %d named wrong, %d unknown\n", n, right, wrong, unknown }' \
    "$WORK/known.csv"
awk -F, 'NR > 1 { n++; if ($2 == "unknown") unknown++ }
         END { printf "strangers: %d images, %d answered unknown, %d given a name\n", n, unknown, n - unknown }' \
    "$WORK/strangers.csv"
