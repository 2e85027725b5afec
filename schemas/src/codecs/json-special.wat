;; The inner loop of the JSON payload scan (json-validate.ts), in WebAssembly with 128-bit SIMD:
;; where, in a window of UTF-8 bytes, the first byte is one a JSON string cannot hold as itself —
;; a quote, a backslash or a control character (below U+0020). Multi-byte UTF-8 sequences never
;; contain such a byte, so this holds for any UTF-8 text. 16 bytes per step; the JavaScript loop
;; it replaces takes a byte (a character) per step, the regular expression before it about 0.7 ns
;; a character.
;;
;; Source of the module bytes embedded in json-special.ts: `node scripts/wasm.mjs` compiles it
;; (wabt) and writes them there; a unit test compiles it again and compares.
(module
  ;; One page (64 KiB): the window json-special.ts copies a payload through.
  (memory (export "memory") 1 1)

  ;; The first offset in [from, to) whose byte is '"', '\' or below 0x20; `to` if there is none.
  (func (export "special") (param $from i32) (param $to i32) (result i32)
    (local $i i32)
    (local $v v128)
    (local $mask i32)
    (local $b i32)
    (local.set $i (local.get $from))
    (block $scalar
      (loop $vector
        (br_if $scalar (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $to)))
        (local.set $v (v128.load align=1 (local.get $i)))
        (local.set $mask
          (i8x16.bitmask
            (v128.or
              (v128.or
                (i8x16.lt_u (local.get $v) (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32))
                (i8x16.eq (local.get $v) (v128.const i8x16 34 34 34 34 34 34 34 34 34 34 34 34 34 34 34 34)))
              (i8x16.eq (local.get $v) (v128.const i8x16 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92)))))
        (if (local.get $mask)
          (then (return (i32.add (local.get $i) (i32.ctz (local.get $mask))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $vector)))
    ;; The last 15 bytes or fewer, one at a time.
    (block $done
      (loop $byte
        (br_if $done (i32.ge_u (local.get $i) (local.get $to)))
        (local.set $b (i32.load8_u (local.get $i)))
        (br_if $done
          (i32.or
            (i32.lt_u (local.get $b) (i32.const 32))
            (i32.or (i32.eq (local.get $b) (i32.const 34)) (i32.eq (local.get $b) (i32.const 92)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $byte)))
    (local.get $i)))
