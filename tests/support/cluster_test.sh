# cluster_test.sh: sourced by the cluster's shell tests after server_test.sh (which gives
# $KHORGOS, $work and fail). transfers_applied DIR: the 50 transfers 100 to 149 of 5 each from
# account 1 to 2 are each in DIR once (`khorgos apply` looks them up offline) and account 1's
# debits are 250, so none was lost or applied twice. cleanup_cluster, for `trap cleanup_cluster
# EXIT`: SIGKILLs the replicas whose pids the test keeps in the array pids (0: none) and removes
# $work unless KEEP is set. caught_up HTTP COUNT: up to 15 s for `khorgos status --addresses
# HTTP` (its output in $work/status) to show COUNT replicas whose lag is 0.
transfers_applied() {
    local name=${1##*/}
    echo "{\"op\":\"lookup_transfers\",\"ids\":[\"$(seq -s '","' 100 149)\"]}
{\"op\":\"lookup_accounts\",\"ids\":[\"1\"]}" | "$KHORGOS" apply --data "$1" \
        >"$work/lookup-$name" 2>/dev/null || fail "apply $name"
    [ "$(grep -o '"amount":"5"' "$work/lookup-$name" | wc -l)" -eq 50 ] ||
        fail "$name: not every acknowledged transfer is there"
    grep -q '"debits_posted":"250"' "$work/lookup-$name" || fail "$name: debits are not 250"
}
cleanup_cluster() {
    for pid in "${pids[@]}"; do [ "$pid" != 0 ] && kill -9 "$pid" 2>/dev/null; done
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
caught_up() {
    for _ in $(seq 150); do
        "$KHORGOS" status --addresses "$1" >"$work/status"
        [ "$(awk '$1 ~ /^[0-4]$/ && $NF == 0' "$work/status" | wc -l)" -eq "$2" ] && return 0
        sleep 0.1
    done
    fail "a replica lags: $(cat "$work/status")"
}
