output "yaml" { value = yamlencode({ a = [1, "x", true, null], b = { c = "multi\nline" } }) }
output "nested" { value = yamlencode([[1, 2], [{ k = "v", j = [] }], {}]) }
output "strings" { value = yamlencode({ s = "ends\n", q = "say \"hi\"", e = "", u = "ünï", t = "a\tb" }) }
output "long" { value = yamlencode({ long = "aaaaaaaaaa bbbbbbbbbb cccccccccc dddddddddd eeeeeeeeee ffffffffff gggggggggg hhhhhhhhhh" }) }
output "scalars" { value = yamlencode({ n = 1.5, neg = -3, t = true, z = null }) }
output "top" { value = yamlencode("str") }
