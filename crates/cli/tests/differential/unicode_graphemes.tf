output "lengths" { value = [length("e\u0301"), length("🇫🇷"), length("héllo"), length("")] }
output "reversed" { value = [strrev("ae\u0301b"), strrev("héllo")] }
output "substrings" { value = [substr("ae\u0301bc", 1, 2), substr("🇫🇷🇩🇪x", 1, 1), substr("héllo", -3, -1)] }
output "normalised" { value = ["e\u0301" == "\u00e9", "e\u0301"] }
