output "merge" { value = merge({ a = 1 }, { b = 2 }) }
output "keys" { value = keys({ b = 1, a = 2 }) }
output "values" { value = values({ b = 1, a = 2 }) }
output "flatten" { value = flatten([[1, 2], [3]]) }
output "distinct" { value = distinct([1, 2, 1]) }
output "lookup" { value = lookup({ a = "x" }, "b", "d") }
output "zipmap" { value = zipmap(["a", "b"], [1, 2]) }
output "range" { value = range(3) }
output "slice" { value = slice([1, 2, 3, 4], 1, 3) }
output "sort" { value = sort(["b", "a"]) }
output "concat" { value = concat([1], [2, 3]) }
