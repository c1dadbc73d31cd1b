# cluster_test.sh: sourced by the cluster's shell tests after server_test.sh (which gives
# $KHORGOS, $work and fail). transfers_applied DIR: the 50 transfers 100 to 149 of 5 each from
# account 1 to 2 are each in DIR once (`khorgos apply` looks them up offline) and account 1's
# debits are 250, so none was lost or applied twice.
transfers_applied() {
    local name=${1##*/}
    echo "{\"op\":\"lookup_transfers\",\"ids\":[\"$(seq -s '","' 100 149)\"]}
{\"op\":\"lookup_accounts\",\"ids\":[\"1\"]}" | "$KHORGOS" apply --data "$1" \
        >"$work/lookup-$name" 2>/dev/null || fail "apply $name"
    [ "$(grep -o '"amount":"5"' "$work/lookup-$name" | wc -l)" -eq 50 ] ||
        fail "$name: not every acknowledged transfer is there"
    grep -q '"debits_posted":"250"' "$work/lookup-$name" || fail "$name: debits are not 250"
}
