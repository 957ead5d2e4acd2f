output "coalesce" { value = coalesce("", "b", "c") }
output "coalescelist" { value = coalescelist([], ["x"]) }
output "element" { value = element(["a", "b", "c"], 4) }
output "index" { value = index(["a", "b"], "b") }
output "one" { value = one(["x"]) }
output "alltrue" { value = alltrue([true, true]) }
output "anytrue" { value = anytrue([false, true]) }
output "compact" { value = compact(["a", "", "b"]) }
output "reverse" { value = reverse([1, 2, 3]) }
output "chunk" { value = chunklist([1, 2, 3, 4, 5], 2) }
output "transpose" { value = transpose({ a = ["1", "2"], b = ["2"] }) }
output "setproduct" { value = setproduct(["a", "b"], ["x"]) }
output "matchkeys" { value = matchkeys(["a", "b", "c"], [1, 2, 3], [2]) }
