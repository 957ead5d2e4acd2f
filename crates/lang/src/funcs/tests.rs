//! Tests of the function library: each family's functions against Terraform's documented
//! results and error messages, the argument counts, and that no input panics.

use super::*;

fn ctx() -> FuncContext {
    FuncContext {
        base_dir: PathBuf::from("/nonexistent-terrane-dir"),
    }
}
fn ok(name: &str, args: Vec<Value>) -> Value {
    call(name, args, &ctx()).unwrap_or_else(|e| panic!("{name}: {e}"))
}
fn err(name: &str, args: Vec<Value>) -> String {
    call(name, args, &ctx()).expect_err(name)
}
fn s(x: &str) -> Value {
    Value::from(x)
}
fn n(x: f64) -> Value {
    Value::from(x)
}
fn l(items: &[Value]) -> Value {
    Value::List(items.to_vec())
}
fn sl(items: &[&str]) -> Value {
    Value::List(items.iter().map(|x| s(x)).collect())
}
fn m(entries: &[(&str, Value)]) -> Value {
    Value::map(entries.iter().cloned())
}

#[test]
fn numeric() {
    assert_eq!(ok("abs", vec![n(-2.5)]), n(2.5));
    assert_eq!(ok("ceil", vec![n(1.2)]), n(2.0));
    assert_eq!(ok("floor", vec![s("1.8")]), n(1.0));
    assert_eq!(ok("signum", vec![n(-7.0)]), n(-1.0));
    assert_eq!(ok("signum", vec![n(0.0)]), n(0.0));
    assert_eq!(ok("pow", vec![n(2.0), n(10.0)]), n(1024.0));
    assert_eq!(ok("log", vec![n(8.0), n(2.0)]), n(3.0));
    // Results that are not real numbers fail, as Terraform fails the call.
    assert!(err("log", vec![n(-1.0), n(10.0)]).contains("no real result"));
    assert!(err("pow", vec![n(-8.0), n(0.5)]).contains("pow(-8, 0.5)"));
    assert_eq!(ok("max", vec![n(1.0), n(7.0), s("3")]), n(7.0));
    assert_eq!(ok("min", vec![n(1.0), n(-7.0)]), n(-7.0));
    assert_eq!(err("max", vec![]), "max() takes at least 1 argument, got 0");
    assert_eq!(ok("sum", vec![l(&[n(1.0), n(2.5), s("3")])]), n(6.5));
    assert!(err("sum", vec![l(&[])]).contains("empty"));
    assert_eq!(ok("parseint", vec![s("FF"), n(16.0)]), n(255.0));
    assert_eq!(ok("parseint", vec![s("-1010"), n(2.0)]), n(-10.0));
    assert_eq!(
        ok("parseint", vec![s("zZ"), n(62.0)]),
        n(35.0 * 62.0 + 61.0)
    );
    assert_eq!(
        err("parseint", vec![s("12"), n(2.0)]),
        "parseint() cannot parse \"12\" as a base 2 integer"
    );
    assert!(err("parseint", vec![s("1"), n(63.0)]).contains("between 2 and 62"));
    assert!(err("abs", vec![s("x")]).contains("cannot convert \"x\" to a number"));
    assert_eq!(
        err("abs", vec![Value::Null]),
        "abs() argument 1 must not be null"
    );
}

#[test]
fn strings() {
    assert_eq!(ok("chomp", vec![s("a\r\n\n")]), s("a"));
    assert_eq!(
        ok("startswith", vec![s("hello"), s("he")]),
        Value::Bool(true)
    );
    assert_eq!(
        ok("endswith", vec![s("hello"), s("he")]),
        Value::Bool(false)
    );
    assert_eq!(
        ok("strcontains", vec![s("hello"), s("ll")]),
        Value::Bool(true)
    );
    assert_eq!(ok("indent", vec![n(2.0), s("a\nb\n")]), s("a\n  b\n  "));
    assert_eq!(
        ok("join", vec![s(","), sl(&["a", "b"]), l(&[n(3.0)])]),
        s("a,b,3")
    );
    assert_eq!(
        err("join", vec![s(",")]),
        "join() takes at least 2 arguments, got 1"
    );
    assert!(err("join", vec![s(","), l(&[Value::Null])]).contains("element 0"));
    assert_eq!(ok("lower", vec![s("ÀB")]), s("àb"));
    assert_eq!(ok("upper", vec![s("àb")]), s("ÀB"));
    assert_eq!(ok("upper", vec![n(5.0)]), s("5"));
    assert_eq!(
        ok("title", vec![s("hello wörld-foo_bar")]),
        s("Hello Wörld-Foo_bar")
    );
    assert_eq!(ok("strrev", vec![s("héllo")]), s("olléh"));
    assert_eq!(ok("trimspace", vec![s("  x \n")]), s("x"));
    assert_eq!(ok("trim", vec![s("?!hello?!"), s("!?")]), s("hello"));
    assert_eq!(
        ok("trimprefix", vec![s("helloworld"), s("hello")]),
        s("world")
    );
    assert_eq!(
        ok("trimsuffix", vec![s("helloworld"), s("xx")]),
        s("helloworld")
    );
    assert_eq!(
        ok("replace", vec![s("1 + 2 + 3"), s("+"), s("-")]),
        s("1 - 2 - 3")
    );
    assert_eq!(ok("regex", vec![s("[a-z]+"), s("12abc3")]), s("abc"));
    assert!(err("regex", vec![s("a"), s("b")]).contains("did not match"));
    assert_eq!(
        ok("regex", vec![s("(\\d+)-(\\d+)"), s("x 10-20")]),
        Value::List(vec![s("10"), s("20")])
    );
    assert_eq!(
        ok("regex", vec![s("(?P<k>\\w+)=(?P<v>\\w+)"), s("a=b")]),
        Value::map([("k", s("a")), ("v", s("b"))])
    );
    assert_eq!(
        ok("regexall", vec![s("[0-9]+"), s("a1b22")]),
        Value::List(vec![s("1"), s("22")])
    );
    assert!(err("regexall", vec![s("("), s("x")]).contains("invalid regular expression"));
    assert_eq!(
        ok("replace", vec![s("hello world"), s("/o(.)/"), s("0$1")]),
        s("hell0 w0rld")
    );
    assert_eq!(
        ok("split", vec![s(","), s("a,b,,c")]),
        sl(&["a", "b", "", "c"])
    );
    assert_eq!(ok("split", vec![s(","), s("")]), sl(&[""]));
    assert_eq!(ok("split", vec![s(""), s("hé")]), sl(&["h", "é"]));
    assert_eq!(
        ok("substr", vec![s("hello world"), n(1.0), n(4.0)]),
        s("ello")
    );
    assert_eq!(ok("substr", vec![s("héllo"), n(-3.0), n(-1.0)]), s("llo"));
    assert_eq!(ok("substr", vec![s("hé"), n(5.0), n(2.0)]), s(""));
    assert_eq!(ok("substr", vec![s("hé"), n(-9.0), n(1.0)]), s("h"));
    assert!(err("substr", vec![s("x"), n(0.5), n(1.0)]).contains("whole number"));
    assert_eq!(err("upper", vec![]), "upper() takes 1 argument, got 0");
    assert!(err("upper", vec![l(&[])]).contains("must be a string, but got list"));
}

#[test]
fn format_verbs() {
    let f = |spec: &str, args: &[Value]| {
        let mut all = vec![s(spec)];
        all.extend_from_slice(args);
        call("format", all, &ctx())
    };
    assert_eq!(f("Hello, %s!", &[s("Ander")]), Ok(s("Hello, Ander!")));
    assert_eq!(
        f("%d items, %.2f%%", &[n(3.0), n(2.0 / 3.0)]),
        Ok(s("3 items, 0.67%"))
    );
    assert_eq!(
        f(
            "%f|%5d|%-5d|%05d|%+d",
            &[n(1.5), n(42.0), n(42.0), n(-42.0), n(7.0)]
        ),
        Ok(s("1.500000|   42|42   |-0042|+7"))
    );
    assert_eq!(
        f(
            "%q %v %v %v",
            &[s("a\"b"), s("x"), n(1.5), Value::Bool(true)]
        ),
        Ok(s("\"a\\\"b\" x 1.5 true"))
    );
    assert_eq!(
        f("%v %#v", &[l(&[n(1.0), s("a")]), s("x")]),
        Ok(s("[1,\"a\"] \"x\""))
    );
    assert_eq!(f("%v", &[n(1e7)]), Ok(s("1e+07")));
    assert_eq!(
        f(
            "%x %X %o %b %t",
            &[n(255.0), n(255.0), n(8.0), n(5.0), s("true")]
        ),
        Ok(s("ff FF 10 101 true"))
    );
    assert_eq!(
        f("%e %.3g %g", &[n(1234.5), n(1234.5), n(0.25)]),
        Ok(s("1.234500e+03 1.23e+03 0.25"))
    );
    assert_eq!(
        f(
            "%[2]s %[1]s %.1s|%-4s|%4q",
            &[s("a"), s("bc"), s("d"), s("e")]
        ),
        Ok(s("bc a b|d   | \"e\""))
    );
    assert_eq!(f("%[2]s %[1]s", &[s("a"), s("b")]), Ok(s("b a")));
    assert_eq!(
        f("%s", &[]).unwrap_err(),
        "format() has not enough arguments for the %s verb"
    );
    assert!(f("%s", &[s("a"), s("b")])
        .unwrap_err()
        .contains("too many arguments"));
    assert!(f("%d", &[n(1.5)]).unwrap_err().contains("integer"));
    assert!(f("%s", &[Value::Null]).unwrap_err().contains("null"));
    assert_eq!(f("%v", &[Value::Null]), Ok(s("null")));
    assert!(f("%y", &[n(1.0)]).unwrap_err().contains("%y"));
    assert!(f("%999999999999d", &[n(1.0)])
        .unwrap_err()
        .contains("too large"));
    assert!(f("50%", &[]).unwrap_err().contains("incomplete"));
    assert_eq!(
        ok(
            "formatlist",
            vec![s("%s=%d"), sl(&["a", "b"]), l(&[n(1.0), n(2.0)])]
        ),
        sl(&["a=1", "b=2"])
    );
    assert_eq!(ok("formatlist", vec![s("x-%s"), s("y")]), sl(&["x-y"]));
    assert!(
        err("formatlist", vec![s("%s%s"), sl(&["a"]), sl(&["a", "b"])])
            .contains("other lists have length 1")
    );
}

#[test]
fn collections() {
    let abc = sl(&["a", "b", "c"]);
    assert_eq!(
        ok("alltrue", vec![l(&[Value::Bool(true), s("true")])]),
        Value::Bool(true)
    );
    assert_eq!(
        ok("alltrue", vec![l(&[Value::Bool(true), Value::Null])]),
        Value::Bool(false)
    );
    assert_eq!(ok("alltrue", vec![l(&[])]), Value::Bool(true));
    assert_eq!(
        ok("anytrue", vec![l(&[Value::Null, Value::Bool(true)])]),
        Value::Bool(true)
    );
    assert_eq!(ok("anytrue", vec![l(&[])]), Value::Bool(false));
    assert_eq!(
        ok("chunklist", vec![abc.clone(), n(2.0)]),
        l(&[sl(&["a", "b"]), sl(&["c"])])
    );
    assert_eq!(
        ok("chunklist", vec![abc.clone(), n(0.0)]),
        Value::List(vec![abc.clone()])
    );
    assert!(err("chunklist", vec![abc.clone(), n(-1.0)]).contains("negative"));
    assert_eq!(ok("coalesce", vec![Value::Null, s(""), s("b")]), s("b"));
    assert_eq!(ok("coalesce", vec![n(1.0), s("b")]), s("1"));
    assert!(err("coalesce", vec![Value::Null, s("")]).contains("no non-null"));
    assert_eq!(ok("coalescelist", vec![l(&[]), sl(&["x"])]), sl(&["x"]));
    assert!(err("coalescelist", vec![l(&[])]).contains("no non-empty"));
    assert_eq!(
        ok("compact", vec![l(&[s("a"), Value::Null, s(""), s("b")])]),
        sl(&["a", "b"])
    );
    assert_eq!(ok("concat", vec![sl(&["a"]), sl(&["b", "c"])]), abc);
    assert_eq!(
        err("concat", vec![]),
        "concat() takes at least 1 argument, got 0"
    );
    assert_eq!(ok("contains", vec![abc.clone(), s("b")]), Value::Bool(true));
    // Terraform compares with the type: a number is not in a list of strings.
    assert_eq!(ok("contains", vec![sl(&["1"]), n(1.0)]), Value::Bool(false));
    assert_eq!(
        ok("contains", vec![abc.clone(), s("z")]),
        Value::Bool(false)
    );
    assert_eq!(
        ok("distinct", vec![sl(&["b", "a", "b", "c", "a"])]),
        sl(&["b", "a", "c"])
    );
    assert_eq!(ok("element", vec![abc.clone(), n(4.0)]), s("b"));
    assert_eq!(
        err("element", vec![l(&[]), n(0.0)]),
        "element() requires a non-empty list"
    );
    assert!(err("element", vec![abc.clone(), n(-1.0)]).contains("negative"));
    let nested = l(&[s("a"), l(&[s("b"), l(&[s("c")])]), l(&[])]);
    assert_eq!(ok("flatten", vec![nested]), abc);
    assert_eq!(ok("index", vec![abc.clone(), s("c")]), n(2.0));
    assert!(err("index", vec![abc.clone(), s("z")]).contains("found no"));
    let mp = m(&[("b", n(2.0)), ("a", n(1.0))]);
    assert_eq!(ok("keys", vec![mp.clone()]), sl(&["a", "b"]));
    assert_eq!(ok("values", vec![mp.clone()]), l(&[n(1.0), n(2.0)]));
    assert!(err("keys", vec![abc.clone()]).contains("must be a map or object"));
    assert_eq!(ok("length", vec![s("héllo")]), n(5.0));
    assert_eq!(ok("length", vec![abc.clone()]), n(3.0));
    assert_eq!(ok("length", vec![Value::set(vec![s("a"), s("a")])]), n(1.0));
    assert_eq!(ok("length", vec![mp.clone()]), n(2.0));
    assert!(err("length", vec![n(1.0)]).contains("requires a string"));
    assert_eq!(ok("lookup", vec![mp.clone(), s("a")]), n(1.0));
    assert_eq!(ok("lookup", vec![mp.clone(), s("z"), s("dflt")]), s("dflt"));
    assert_eq!(
        err("lookup", vec![mp.clone(), s("z")]),
        "lookup() failed to find key \"z\""
    );
    assert_eq!(
        err("lookup", vec![mp.clone()]),
        "lookup() takes 2 or 3 arguments, got 1"
    );
    assert_eq!(
        ok(
            "matchkeys",
            vec![
                sl(&["i1", "i2", "i3"]),
                sl(&["us", "eu", "us"]),
                sl(&["us"])
            ]
        ),
        sl(&["i1", "i3"])
    );
    assert_eq!(
        ok(
            "merge",
            vec![
                m(&[("a", n(1.0)), ("b", n(2.0))]),
                Value::Null,
                m(&[("b", n(3.0))])
            ]
        ),
        m(&[("a", n(1.0)), ("b", n(3.0))])
    );
    assert!(err("merge", vec![abc.clone()]).contains("map"));
    assert_eq!(ok("one", vec![l(&[])]), Value::Null);
    assert_eq!(ok("one", vec![sl(&["x"])]), s("x"));
    assert!(err("one", vec![abc.clone()]).contains("zero or one"));
    assert_eq!(ok("range", vec![n(3.0)]), l(&[n(0.0), n(1.0), n(2.0)]));
    assert_eq!(ok("range", vec![n(-2.0)]), l(&[n(0.0), n(-1.0)]));
    assert_eq!(
        ok("range", vec![n(1.0), n(4.0)]),
        l(&[n(1.0), n(2.0), n(3.0)])
    );
    assert_eq!(
        ok("range", vec![n(0.0), n(1.0), n(0.5)]),
        l(&[n(0.0), n(0.5)])
    );
    assert_eq!(
        ok("range", vec![n(4.0), n(1.0), n(-2.0)]),
        l(&[n(4.0), n(2.0)])
    );
    assert!(err("range", vec![n(0.0), n(1.0), n(0.0)]).contains("zero"));
    assert!(err("range", vec![n(1e9)]).contains("1024"));
    assert_eq!(
        err("range", vec![]),
        "range() takes 1 to 3 arguments, got 0"
    );
    assert_eq!(ok("reverse", vec![abc.clone()]), sl(&["c", "b", "a"]));
    let set = |x: &[&str]| Value::set(x.iter().map(|v| s(v)).collect());
    assert_eq!(
        ok("setunion", vec![sl(&["b", "a"]), sl(&["c", "a"])]),
        set(&["a", "b", "c"])
    );
    assert_eq!(
        ok("setintersection", vec![sl(&["a", "b"]), sl(&["b", "c"])]),
        set(&["b"])
    );
    assert_eq!(
        ok("setsubtract", vec![sl(&["a", "b"]), sl(&["b"])]),
        set(&["a"])
    );
    assert_eq!(
        ok("setproduct", vec![sl(&["a", "b"]), sl(&["x"])]),
        l(&[sl(&["a", "x"]), sl(&["b", "x"])])
    );
    assert!(matches!(
        ok("setproduct", vec![set(&["a"]), set(&["x"])]),
        Value::Set(_)
    ));
    assert!(err("setproduct", vec![abc.clone()]).contains("at least 2"));
    assert_eq!(
        ok("slice", vec![abc.clone(), n(1.0), n(3.0)]),
        sl(&["b", "c"])
    );
    assert!(err("slice", vec![abc.clone(), n(1.0), n(4.0)]).contains("end index"));
    assert!(err("slice", vec![abc.clone(), n(2.0), n(1.0)]).contains("start index"));
    assert_eq!(ok("sort", vec![sl(&["c", "a", "B"])]), sl(&["B", "a", "c"]));
    assert_eq!(
        ok(
            "transpose",
            vec![m(&[("a", sl(&["1", "2"])), ("b", sl(&["2"]))])]
        ),
        m(&[("1", sl(&["a"])), ("2", sl(&["a", "b"]))])
    );
    assert_eq!(
        ok("zipmap", vec![sl(&["a", "b"]), l(&[n(1.0), n(2.0)])]),
        m(&[("a", n(1.0)), ("b", n(2.0))])
    );
    assert!(err("zipmap", vec![sl(&["a"]), l(&[])]).contains("they must match"));
}

#[test]
fn encoding_and_hashing() {
    assert_eq!(
        ok("base64encode", vec![s("Hello World")]),
        s("SGVsbG8gV29ybGQ=")
    );
    assert_eq!(
        ok("base64decode", vec![s("SGVsbG8gV29ybGQ=")]),
        s("Hello World")
    );
    assert!(err("base64decode", vec![s("!!")]).contains("invalid base64"));
    assert!(err("base64decode", vec![s("/w==")]).contains("UTF-8"));
    assert_eq!(
        ok("md5", vec![s("hello world")]),
        s("5eb63bbbe01eeed093cb22bb8f5acdc3")
    );
    assert_eq!(
        ok("sha1", vec![s("hello world")]),
        s("2aae6c35c94fcfb415dbe95f408b9ce91ee846ed")
    );
    assert_eq!(
        ok("sha256", vec![s("hello world")]),
        s("b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9")
    );
    assert!(ok("sha512", vec![s("hello world")])
        .as_str()
        .unwrap()
        .starts_with("309ecc489c12d6eb4cc40f50c902f2b4"));
    assert_eq!(
        ok("base64sha256", vec![s("hello world")]),
        s("uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=")
    );
    assert_eq!(
        ok("base64sha512", vec![s("")]).as_str().map(str::len),
        Some(88)
    );
    let v = m(&[
        ("z", n(1.0)),
        ("a", l(&[n(1.5), Value::Bool(true), Value::Null, s("<&>")])),
    ]);
    assert_eq!(
        ok("jsonencode", vec![v.clone()]),
        s(r#"{"a":[1.5,true,null,"\u003c\u0026\u003e"],"z":1}"#)
    );
    assert_eq!(ok("jsonencode", vec![n(10.0)]), s("10"));
    assert_eq!(
        ok(
            "jsondecode",
            vec![s(r#"{"z":1,"a":[1.5,true,null,"<&>"]}"#)]
        ),
        v
    );
    assert!(err("jsondecode", vec![s("{")]).contains("invalid JSON"));
    assert_eq!(
        ok("urlencode", vec![s("a b/c?d=é~")]),
        s("a+b%2Fc%3Fd%3D%C3%A9~")
    );
}

#[test]
fn files_and_paths() {
    let dir = std::env::temp_dir().join(format!("terrane-funcs-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("hello.txt"), "hello world").unwrap();
    std::fs::write(dir.join("bin"), [0xffu8, 0]).unwrap();
    let c = FuncContext {
        base_dir: dir.clone(),
    };
    let call1 = |name: &str, p: &str| call(name, vec![s(p)], &c);
    assert_eq!(call1("file", "hello.txt"), Ok(s("hello world")));
    let abs = dir.join("hello.txt").display().to_string();
    assert_eq!(call1("file", &abs), Ok(s("hello world")));
    assert!(call1("file", "missing.txt")
        .unwrap_err()
        .contains("found no file at"));
    assert!(call1("file", "bin")
        .unwrap_err()
        .contains("not valid UTF-8"));
    assert!(call1("file", "sub").unwrap_err().contains("directory"));
    assert_eq!(call1("filebase64", "bin"), Ok(s("/wA=")));
    for alg in [
        "md5",
        "sha1",
        "sha256",
        "sha512",
        "base64sha256",
        "base64sha512",
    ] {
        assert_eq!(
            call1(&format!("file{alg}"), "hello.txt"),
            Ok(ok(alg, vec![s("hello world")])),
            "file{alg}"
        );
    }
    assert_eq!(call1("fileexists", "hello.txt"), Ok(Value::Bool(true)));
    assert_eq!(call1("fileexists", "nope.txt"), Ok(Value::Bool(false)));
    assert_eq!(call1("fileexists", "hello.txt/x"), Ok(Value::Bool(false)));
    assert!(call1("fileexists", "sub")
        .unwrap_err()
        .contains("not a regular file"));
    assert_eq!(
        call1("abspath", "sub/../x/./y"),
        Ok(s(&format!("{}/x/y", dir.display())))
    );
    assert_eq!(call1("abspath", "/a/b/../c"), Ok(s("/a/c")));
    std::fs::remove_dir_all(&dir).unwrap();

    for (p, base, dirname) in [
        ("foo/bar/baz.txt", "baz.txt", "foo/bar"),
        ("foo", "foo", "."),
        ("/foo", "foo", "/"),
        ("/", "/", "/"),
        ("", ".", "."),
        ("a/b/", "b", "a/b"),
        ("a//b", "b", "a"),
    ] {
        assert_eq!(ok("basename", vec![s(p)]), s(base), "basename({p:?})");
        assert_eq!(ok("dirname", vec![s(p)]), s(dirname), "dirname({p:?})");
    }
    assert_eq!(ok("pathexpand", vec![s("/etc")]), s("/etc"));
    if let Ok(home) = std::env::var("HOME") {
        assert_eq!(ok("pathexpand", vec![s("~/x")]), s(&format!("{home}/x")));
    }
}

#[test]
fn cidr() {
    let sub = |p: &str, b: f64, num: f64| call("cidrsubnet", vec![s(p), n(b), n(num)], &ctx());
    let host = |p: &str, num: f64| call("cidrhost", vec![s(p), n(num)], &ctx());
    assert_eq!(sub("172.16.0.0/12", 4.0, 2.0), Ok(s("172.18.0.0/16")));
    assert_eq!(sub("10.1.2.0/24", 4.0, 15.0), Ok(s("10.1.2.240/28")));
    assert_eq!(sub("10.1.2.3/16", 8.0, 1.0), Ok(s("10.1.1.0/24")));
    assert_eq!(
        sub("fd00:fd12:3456:7890::/56", 16.0, 162.0),
        Ok(s("fd00:fd12:3456:7800:a200::/72"))
    );
    assert_eq!(sub("0.0.0.0/0", 0.0, 0.0), Ok(s("0.0.0.0/0")));
    assert_eq!(sub("::/0", 0.0, 0.0), Ok(s("::/0")));
    assert!(sub("10.0.0.0/30", 4.0, 0.0)
        .unwrap_err()
        .contains("cannot extend"));
    assert!(sub("10.0.0.0/24", 2.0, 4.0)
        .unwrap_err()
        .contains("has no subnet numbered 4"));
    assert!(sub("10.0.0.0/24", 2.0, -1.0)
        .unwrap_err()
        .contains("has no subnet numbered -1"));
    assert_eq!(
        sub("10.0.0.0/33", 1.0, 0.0).unwrap_err(),
        "invalid CIDR prefix \"10.0.0.0/33\""
    );
    assert_eq!(
        sub("nonsense", 1.0, 0.0).unwrap_err(),
        "invalid CIDR prefix \"nonsense\""
    );
    assert_eq!(host("10.12.112.0/20", 16.0), Ok(s("10.12.112.16")));
    assert_eq!(host("10.12.112.0/20", 268.0), Ok(s("10.12.113.12")));
    assert_eq!(host("10.12.112.0/20", -1.0), Ok(s("10.12.127.255")));
    assert_eq!(
        host("fd00:fd12:3456:7890:00a2::/72", 34.0),
        Ok(s("fd00:fd12:3456:7890::22"))
    );
    assert_eq!(
        host("::/0", -1.0),
        Ok(s("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
    );
    assert!(host("10.0.0.0/30", 4.0)
        .unwrap_err()
        .contains("has no host numbered 4"));
    assert!(host("10.0.0.0/30", -5.0)
        .unwrap_err()
        .contains("has no host numbered -5"));
    assert_eq!(
        ok("cidrnetmask", vec![s("172.16.0.0/12")]),
        s("255.240.0.0")
    );
    assert_eq!(ok("cidrnetmask", vec![s("0.0.0.0/0")]), s("0.0.0.0"));
    assert_eq!(
        ok("cidrnetmask", vec![s("1.2.3.4/32")]),
        s("255.255.255.255")
    );
    assert!(err("cidrnetmask", vec![s("::/64")]).contains("only IPv4"));
    assert_eq!(
        ok(
            "cidrsubnets",
            vec![s("10.1.0.0/16"), n(4.0), n(4.0), n(8.0), n(4.0)]
        ),
        sl(&[
            "10.1.0.0/20",
            "10.1.16.0/20",
            "10.1.32.0/24",
            "10.1.48.0/20"
        ])
    );
    assert_eq!(
        ok(
            "cidrsubnets",
            vec![s("fd00:fd12:3456:7890::/56"), n(16.0), n(16.0)]
        ),
        sl(&["fd00:fd12:3456:7800::/72", "fd00:fd12:3456:7800:100::/72"])
    );
    assert!(err(
        "cidrsubnets",
        vec![s("10.0.0.0/30"), n(1.0), n(1.0), n(1.0)]
    )
    .contains("no room left"));
    assert!(err("cidrsubnets", vec![s("10.0.0.0/30"), n(3.0)]).contains("cannot extend"));
}

#[test]
fn conversions() {
    assert_eq!(ok("tostring", vec![Value::Null]), Value::Null);
    assert_eq!(ok("tostring", vec![n(1.5)]), s("1.5"));
    assert_eq!(ok("tostring", vec![Value::Bool(true)]), s("true"));
    assert!(err("tostring", vec![l(&[])]).contains("cannot convert"));
    assert_eq!(ok("tonumber", vec![s("1.5")]), n(1.5));
    assert_eq!(ok("tonumber", vec![Value::Null]), Value::Null);
    assert!(err("tonumber", vec![s("inf")]).contains("cannot convert"));
    assert_eq!(ok("tobool", vec![s("false")]), Value::Bool(false));
    assert!(err("tobool", vec![n(1.0)]).contains("cannot convert"));
    assert_eq!(
        ok("tolist", vec![Value::set(vec![s("b"), s("a")])]),
        sl(&["a", "b"])
    );
    assert_eq!(ok("tolist", vec![l(&[s("a"), n(1.0)])]), sl(&["a", "1"]));
    assert!(err("tolist", vec![s("a")]).contains("cannot convert a string to a list"));
    assert_eq!(
        ok("toset", vec![sl(&["b", "a", "b"])]),
        Value::Set(vec![s("a"), s("b")])
    );
    assert_eq!(
        ok("tomap", vec![m(&[("a", s("x")), ("b", n(1.0))])]),
        m(&[("a", s("x")), ("b", s("1"))])
    );
    assert!(err("tomap", vec![l(&[])]).contains("cannot convert"));
}

#[test]
fn names_and_arity() {
    for f in table() {
        let name = f.name;
        assert!(exists(name));
        let r = call(name, vec![Value::Null; f.min], &ctx());
        assert!(
            !matches!(&r, Err(e) if e.contains("not implemented")),
            "{name} is not dispatched"
        );
    }
    for name in [
        "try",
        "can",
        "templatefile",
        "sensitive",
        "nonsensitive",
        "timestamp",
        "uuid",
        "type",
        "nope",
    ] {
        assert!(!exists(name));
        assert_eq!(err(name, vec![]), format!("unknown function {name}()"));
    }
    assert_eq!(
        err("join", vec![s(",")]),
        "join() takes at least 2 arguments, got 1"
    );
    assert_eq!(
        err("replace", vec![s("a")]),
        "replace() takes 3 arguments, got 1"
    );
}

/// The registration table: each name once, each family's rows in alphabetical order,
/// and every row reachable through the public API with the argument counts it declares.
#[test]
fn registration_table() {
    for family in FAMILIES {
        for pair in family.windows(2) {
            let [a, b] = pair else { unreachable!() };
            assert!(a.name < b.name, "{} is listed after {}", b.name, a.name);
        }
    }
    let rows: usize = FAMILIES.iter().map(|f| f.len()).sum();
    assert_eq!(table().len(), rows);
    for pair in table().windows(2) {
        let [a, b] = pair else { unreachable!() };
        assert!(a.name < b.name, "{} is registered twice", b.name);
    }
    assert_eq!(
        names().collect::<Vec<_>>(),
        table().iter().map(|f| f.name).collect::<Vec<_>>()
    );
    for f in table() {
        let name = f.name;
        assert!(exists(name), "{name}");
        assert!(
            lookup(name).is_some_and(|row| std::ptr::eq(row, *f)),
            "{name}"
        );
        if let Err(e) = call(name, vec![s("x"); f.min], &ctx()) {
            assert!(!e.contains("unknown function"), "{name}: {e}");
            assert!(!e.contains(" takes "), "{name}: {e}");
        }
        assert_eq!(check_arity(name, f.min), Ok(()), "{name}");
        if let Some(max) = f.max {
            assert!(f.min <= max, "{name}");
            assert_eq!(check_arity(name, max), Ok(()), "{name}");
            assert!(
                matches!(
                    check_arity(name, max + 1),
                    Err(("Too many function arguments", _))
                ),
                "{name}"
            );
        }
        if f.min > 0 {
            assert!(
                matches!(
                    check_arity(name, f.min - 1),
                    Err(("Not enough function arguments", _))
                ),
                "{name}"
            );
        }
    }
    assert_eq!(
        check_arity("join", 1),
        Err((
            "Not enough function arguments",
            "join() takes at least 2 arguments, got 1".to_string()
        ))
    );
    assert_eq!(
        check_arity("upper", 2),
        Err((
            "Too many function arguments",
            "upper() takes 1 argument, got 2".to_string()
        ))
    );
}

/// Every function, every arity up to 3, over awkward arguments: errors are fine, panics are not.
#[test]
fn never_panics() {
    let pool = [
        Value::Null,
        Value::Bool(true),
        n(-1.5),
        n(1e300),
        n(f64::NAN),
        n(3.0),
        s(""),
        s("é/1/../%-05.3[2]d%"),
        s("10.0.0.0/8"),
        l(&[s("a"), n(1.0), Value::Null, l(&[])]),
        Value::set(vec![n(2.0), s("b")]),
        m(&[("k", sl(&["x"]))]),
    ];
    for name in names() {
        let mut combos: Vec<Vec<Value>> = vec![vec![]];
        for arity in 1..=3 {
            let mut next = Vec::new();
            for c in combos.iter().filter(|c| c.len() == arity - 1) {
                for p in &pool {
                    let mut c = c.clone();
                    c.push(p.clone());
                    next.push(c);
                }
            }
            combos.extend(next);
        }
        for args in combos {
            let _ = call(name, args, &ctx());
        }
    }
}

#[test]
fn rsadecrypt_reads_pkcs1_and_pkcs8_keys() {
    use base64::Engine as _;
    use rsa::pkcs1::EncodeRsaPrivateKey as _;
    use rsa::pkcs8::EncodePrivateKey as _;
    let mut rng = rand_core::OsRng;
    // A throwaway key made for this test alone (small, so a debug build makes it fast).
    let key = rsa::RsaPrivateKey::new(&mut rng, 512).unwrap();
    let ciphertext = rsa::RsaPublicKey::from(&key)
        .encrypt(&mut rng, rsa::Pkcs1v15Encrypt, b"secret text")
        .unwrap();
    let ct = s(&base64::engine::general_purpose::STANDARD.encode(ciphertext));
    let pkcs1 = key
        .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap()
        .to_string();
    let pkcs8 = key
        .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap()
        .to_string();
    assert_eq!(
        ok("rsadecrypt", vec![ct.clone(), s(&pkcs1)]),
        s("secret text")
    );
    assert_eq!(
        ok("rsadecrypt", vec![ct.clone(), s(&pkcs8)]),
        s("secret text")
    );
    assert!(err("rsadecrypt", vec![s("not base64!"), s(&pkcs1)]).contains("base64"));
    assert!(
        err("rsadecrypt", vec![ct.clone(), s("-----BEGIN NOTHING-----")])
            .contains("not an RSA private key")
    );
    let other = rsa::RsaPrivateKey::new(&mut rng, 512).unwrap();
    let other = other
        .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap()
        .to_string();
    assert!(err("rsadecrypt", vec![ct, s(&other)]).contains("failed to decrypt"));
}

#[test]
fn text_encodings() {
    assert_eq!(
        ok("textencodebase64", vec![s("héllo"), s("UTF-16LE")]),
        s("aADpAGwAbABvAA==")
    );
    assert_eq!(
        ok("textencodebase64", vec![s("hi"), s("utf-16")]),
        s("/v8AaABp")
    );
    assert_eq!(
        ok("textdecodebase64", vec![s("aOlsbG8="), s("latin1")]),
        s("héllo")
    );
    assert!(err("textencodebase64", vec![s("h€"), s("US-ASCII")]).contains("cannot be represented"));
    assert!(
        err("textencodebase64", vec![s("hi"), s("utf8")]).contains("not a supported IANA encoding")
    );
}

#[test]
fn gzip_round_trips() {
    use base64::Engine as _;
    use std::io::Read as _;
    let Value::String(b) = ok("base64gzip", vec![s("hello world")]) else {
        panic!()
    };
    let bytes = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "hello world");
}

#[test]
fn dates() {
    assert_eq!(
        ok(
            "formatdate",
            vec![s("DD MMM YYYY hh:mm ZZZ"), s("2024-03-05T07:08:09Z")]
        ),
        s("05 Mar 2024 07:08 UTC")
    );
    assert_eq!(
        ok("timeadd", vec![s("2024-03-05T07:08:09+02:00"), s("-1h")]),
        s("2024-03-05T06:08:09+02:00")
    );
    assert_eq!(
        ok(
            "timecmp",
            vec![s("2024-03-05T07:08:09Z"), s("2024-03-05T08:08:09+01:00")]
        ),
        n(0.0)
    );
    assert!(err("formatdate", vec![s("YYY"), s("2024-03-05T07:08:09Z")])
        .contains("invalid date format verb \"YYY\""));
    assert!(
        err("timeadd", vec![s("2024-03-05"), s("1h")]).contains("not a valid RFC 3339 timestamp")
    );
    assert!(err("signum", vec![n(0.5)]).contains("whole number"));
}

#[test]
fn fileset_walks_below_the_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("sub/deeper")).unwrap();
    for f in ["a.txt", "b.tf", "sub/c.txt", "sub/deeper/d.txt"] {
        std::fs::write(dir.path().join(f), "x").unwrap();
    }
    let ctx = FuncContext {
        base_dir: dir.path().to_path_buf(),
    };
    let set = |pattern: &str| call("fileset", vec![s("."), s(pattern)], &ctx).unwrap();
    assert_eq!(set("*.txt"), Value::Set(vec![s("a.txt")]));
    assert_eq!(
        set("**/*.txt"),
        Value::Set(vec![s("a.txt"), s("sub/c.txt"), s("sub/deeper/d.txt")])
    );
    assert_eq!(set("sub/*"), Value::Set(vec![s("sub/c.txt")]));
    assert_eq!(
        call("fileset", vec![s("nope"), s("*")], &ctx).unwrap(),
        Value::Set(vec![])
    );
    assert!(call("fileset", vec![s("."), s("[")], &ctx)
        .unwrap_err()
        .contains("not a valid pattern"));
}
